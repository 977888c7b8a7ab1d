//! Issue 22 §3 with real dbt-core + dbt-duckdb + MetricFlow (dbt-metricflow): every dimension
//! is a semantic model (its attributes are group-by items: `customer__country`), metrics of
//! every kind pass `mf validate-configs` without a warning, the time spine runs from the data's
//! first day to today, and `mf query` for every metric kind — grouped by time and by an entity
//! attribute — equals hand-written SQL over the same DuckDB file.
//!
//! dbt and mf come from `bash scripts/setup-test-deps` (`bin/mf` beside `bin/dbt`); without
//! them this test FAILS.

mod marts_support;
mod real_dbt;

use std::collections::BTreeSet;
use std::path::Path;

use marts_support::{datachonk, duckdb_project, read, sql};
use real_dbt::{dbt, dbt_command, dbt_path, run_ok};

const WAREHOUSE: &str = "
create schema raw_shop;
create table raw_shop.customers (customer_id integer primary key, customer_name varchar, country varchar, signed_up_on date);
insert into raw_shop.customers values (1, 'Ada', 'UK', '2023-01-01'), (2, 'Grace', 'US', '2023-02-01'), (3, 'Edsger', 'NL', '2023-03-01');
create table raw_shop.orders (order_id integer primary key, customer_id integer, amount double, ordered_at timestamp);
insert into raw_shop.orders values
  (100, 1, 10, '2024-03-01 10:00:00'), (101, 2, 20, '2024-03-03 10:00:00'),
  (102, 1, 30, '2024-03-09 10:00:00'), (103, 3, 40, '2024-03-20 10:00:00'),
  (104, 2, 50, '2024-04-02 10:00:00'), (105, 77, 60, '2024-04-05 10:00:00'),
  (106, 3, 70, '2024-04-28 10:00:00');
select 1
";

const SPEC: &str = "\
entities:
  customers:
    from: stg_shop__customers
    key: customer_id
    attributes: [customer_name, country, signed_up_date]
    description: A person who has an account.
    descriptions: { country: Where the customer lives., signed_up_date: The day the account was opened. }

facts:
  orders:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    time: ordered_at
    descriptions: { amount: Order total. }

metrics:
  revenue: { fact: orders, measure: amount, agg: sum, description: Sum of order amounts. }
  order_count: { fact: orders, agg: count }
  average_order_value: { type: ratio, numerator: revenue, denominator: order_count }
  revenue_to_date: { type: cumulative, fact: orders, measure: amount, agg: sum }
  revenue_7d: { type: cumulative, fact: orders, measure: amount, agg: sum, window: 7 days }
  revenue_per_order: { type: derived, expr: revenue / order_count, metrics: [revenue, order_count] }
";

/// `mf ARGS` in the project, to success; what it printed.
fn mf(mf: &Path, p: &Path, args: &[&str]) -> String {
    let mut cmd = dbt_command(mf, p, args);
    run_ok(&mut cmd, &format!("mf {}", args.join(" ")))
}

/// A value as both sides print it: dates without their time, numbers to 4 places.
fn norm(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-' {
        return v[..10].to_string();
    }
    match v.parse::<f64>() {
        Ok(x) => format!("{x:.4}"),
        Err(_) => v.to_string(),
    }
}

/// `mf query` as a set of `|`-separated rows (group-bys in the order given, then the metric).
fn mf_rows(
    mf_bin: &Path,
    p: &Path,
    metric: &str,
    group_by: &str,
    extra: &[&str],
) -> BTreeSet<String> {
    let csv = p.join(format!("{metric}-{}.csv", group_by.replace(',', "-")));
    let csv_s = csv.to_string_lossy().into_owned();
    let mut args = vec![
        "query",
        "--metrics",
        metric,
        "--group-by",
        group_by,
        "--csv",
        &csv_s,
    ];
    args.extend_from_slice(extra);
    mf(mf_bin, p, &args);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let mut order: Vec<usize> = Vec::new();
    for want in group_by.split(',').chain([metric]) {
        let i = header
            .iter()
            .position(|h| h == want)
            .unwrap_or_else(|| panic!("{want} not in {header:?}"));
        order.push(i);
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            order
                .iter()
                .map(|&i| norm(cells[i]))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn sql_rows(python: &Path, p: &Path, query: &str) -> BTreeSet<String> {
    sql(python, p, query)
        .iter()
        .map(|r| r.split('|').map(norm).collect::<Vec<_>>().join("|"))
        .collect()
}

#[test]
fn dimensions_are_semantic_models_and_every_metric_kind_equals_sql_through_metricflow() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let mf_bin = dbt_bin.with_file_name("mf");
    assert!(
        mf_bin.is_file(),
        "MetricFlow is not installed at {}: run `bash scripts/setup-test-deps`",
        mf_bin.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    duckdb_project(p, &["customers", "orders"], SPEC);
    sql(&python, p, WAREHOUSE);
    dbt(&dbt_bin, p, &["docs", "generate"]);
    let (code, out) = datachonk(p, &["generate", "--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 0, "{out}");
    let dim = read(p, "models/marts/dim_customers.yml");
    assert!(dim.contains("semantic_models:"), "{dim}");
    assert!(
        dim.contains("- name: signed_up_date\n        type: time\n        description: The day the account was opened."),
        "the spec's descriptions reach the semantic layer: {dim}"
    );
    let fct = read(p, "models/marts/fct_orders.yml");
    assert!(
        fct.contains("description: Order total.\n        agg: sum"),
        "{fct}"
    );
    dbt(
        &dbt_bin,
        p,
        &["parse", "--warn-error", "--no-partial-parse"],
    );
    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");

    // Clean but for one warning MetricFlow 0.15 gives every cumulative metric dbt-core 1.11
    // can write: dbt 1.11 requires `measure:` on a cumulative metric (its schema refuses
    // `cumulative_type_params.metric`), and MetricFlow adds a metric input beside it, then
    // warns that both are there. Anything else fails this test.
    let validate = mf(&mf_bin, p, &["validate-configs", "--show-all"]);
    assert_eq!(
        validate
            .matches("(ERRORS: 0, FUTURE_ERRORS: 0, WARNINGS: 0)")
            .count(),
        5,
        "every warehouse validation is clean:\n{validate}"
    );
    assert!(
        validate.contains("(ERRORS: 0, FUTURE_ERRORS: 0, WARNINGS: 2)"),
        "{validate}"
    );
    let warnings: Vec<&str> = validate
        .lines()
        .filter(|l| l.contains("WARNING:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{validate}");
    for w in warnings {
        assert!(
            w.contains("should not have both a measure and a metric as inputs")
                && (w.contains("`revenue_7d`") || w.contains("`revenue_to_date`")),
            "an unexpected warning: {w}"
        );
    }

    // The time spine covers the data: from its first day to today.
    let spine = sql(
        &python,
        p,
        "select min(date_day), max(date_day) = current_date from main.metricflow_time_spine",
    );
    assert_eq!(spine, ["2024-03-01|True"]);

    let orders = "select o.*, coalesce(c.country, 'Unknown') as country from raw_shop.orders o left join raw_shop.customers c using (customer_id)";
    let month = "strftime(date_trunc('month', ordered_at), '%Y-%m-%d')";
    for (metric, expr) in [
        ("revenue", "sum(amount)"),
        ("order_count", "count(*)"),
        ("average_order_value", "sum(amount) / count(*)"),
        ("revenue_per_order", "sum(amount) / count(*)"),
    ] {
        let got = mf_rows(&mf_bin, p, metric, "metric_time__month", &[]);
        let want = sql_rows(
            &python,
            p,
            &format!("select {month}, {expr} from ({orders}) group by 1"),
        );
        assert_eq!(got, want, "{metric} by month");
        let got = mf_rows(&mf_bin, p, metric, "customer__country", &[]);
        let want = sql_rows(
            &python,
            p,
            &format!("select country, {expr} from ({orders}) group by 1"),
        );
        assert_eq!(got, want, "{metric} by customer__country");
    }
    // Cumulative metrics, by day over March and April, overall and per country.
    let days = "select cast(d as date) as day from range(date '2024-03-01', date '2024-05-01', interval 1 day) t(d)";
    for (metric, window) in [
        ("revenue_to_date", "true"),
        (
            "revenue_7d",
            "cast(o.ordered_at as date) > s.day - interval 7 day",
        ),
    ] {
        let extra = ["--start-time", "2024-03-01", "--end-time", "2024-04-30"];
        let got = mf_rows(&mf_bin, p, metric, "metric_time__day", &extra);
        let want = sql_rows(
            &python,
            p,
            &format!("select strftime(s.day, '%Y-%m-%d'), sum(o.amount) from ({days}) s join ({orders}) o on cast(o.ordered_at as date) <= s.day and {window} group by 1"),
        );
        assert_eq!(got, want, "{metric} by day");
        let got = mf_rows(
            &mf_bin,
            p,
            metric,
            "metric_time__day,customer__country",
            &extra,
        );
        let want = sql_rows(
            &python,
            p,
            &format!("select strftime(s.day, '%Y-%m-%d'), o.country, sum(o.amount) from ({days}) s join ({orders}) o on cast(o.ordered_at as date) <= s.day and {window} group by 1, 2"),
        );
        // Every (day, country) with an order in the window, and no other: MetricFlow joins the
        // spine to the orders first, so a country with nothing in the window has no row, as here.
        assert!(got.len() > 30, "{metric}: {got:?}");
        assert_eq!(got, want, "{metric} by day and customer__country");
    }
}
