//! Proof with real dbt-core + dbt-duckdb (issue 15 §4): a warehouse of customers, products,
//! orders and order lines with real foreign keys; a spec with two entities (customers kept as
//! scd2), an incremental fact, a second fact at a composite grain and metrics of every kind →
//! `datachonk generate` (staging from the catalog and the spec's marts in one run) →
//! `dbt parse --warn-error --no-partial-parse` (semantic models and metrics validate),
//! `dbt snapshot` + `dbt build` green. Then a customer's attribute changes, an old order's
//! amount changes (its time does not) and a new order arrives → second `dbt snapshot` +
//! `dbt build`: two rows for that customer with the right validity, the incremental fact gained
//! only the new order (joined to the customer's new version), every test passes.
//!
//! dbt comes from `bash scripts/setup-test-deps` (or `$DATACHONK_TEST_DBT`); without it this
//! test FAILS. One test function: dbt starts in ~2.5 s each time.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::{dbt, dbt_path, run_ok};

fn write(p: &Path, rel: &str, text: &str) {
    let path = p.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(p: &Path, rel: &str) -> String {
    std::fs::read_to_string(p.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `datachonk ARGS` in the project: (exit code, stdout + stderr).
fn datachonk(p: &Path, args: &[&str]) -> (i32, String) {
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Run SQL in the warehouse with the dbt virtualenv's duckdb; the rows of the last statement
/// as lines of `|`-separated values.
fn sql(python: &Path, p: &Path, statements: &str) -> Vec<String> {
    write(p, "statements.sql", statements);
    let script = "import duckdb\n\
        c = duckdb.connect('warehouse.duckdb')\n\
        stmts = [s for s in open('statements.sql').read().split(';') if s.strip()]\n\
        for s in stmts[:-1]:\n    c.execute(s)\n\
        r = c.execute(stmts[-1])\n\
        rows = r.fetchall() if r.description else []\n\
        print('\\n'.join('|'.join('' if v is None else str(v) for v in row) for row in rows))\n\
        c.close()\n";
    let mut cmd = Process::new(python);
    cmd.current_dir(p).args(["-c", script]);
    run_ok(&mut cmd, "duckdb")
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

const WAREHOUSE: &str = "
create schema raw_shop;
create table raw_shop.customers (customer_id integer primary key, customer_name varchar, email varchar, country varchar, updated_at timestamp);
insert into raw_shop.customers values (1, 'Ada', 'ada@example.com', 'UK', '2024-01-01 00:00:00'), (2, 'Grace', 'grace@example.com', 'US', '2024-01-02 00:00:00');
create table raw_shop.products (product_id integer primary key, product_name varchar, price double);
insert into raw_shop.products values (10, 'Widget', 2.5), (11, 'Gadget', 10);
create table raw_shop.orders (order_id integer primary key, customer_id integer references raw_shop.customers (customer_id), status varchar, amount double, ordered_at timestamp);
insert into raw_shop.orders values (100, 1, 'shipped', 12.5, '2024-02-01 10:00:00'), (101, 2, 'placed', 10, '2024-02-02 11:00:00'), (102, 1, 'placed', 2.5, '2024-02-03 12:00:00');
create table raw_shop.order_lines (order_id integer references raw_shop.orders (order_id), line_number integer, product_id integer references raw_shop.products (product_id), quantity integer, line_amount double, primary key (order_id, line_number));
insert into raw_shop.order_lines values (100, 1, 10, 1, 2.5), (100, 2, 11, 1, 10), (101, 1, 11, 1, 10), (102, 1, 10, 1, 2.5);
select 1
";

const SPEC: &str = "\
entities:
  customers:
    from: stg_shop__customers
    key: customer_id
    attributes: [customer_name, email, country]
    history: scd2
    updated_at: updated_at
  products: { from: stg_shop__products, key: product_id, attributes: [product_name, price] }

facts:
  orders:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    dimensions: [status]
    incremental: { updated_at: ordered_at }
  order_lines:
    from: stg_shop__order_lines
    grain: [order_id, line_number]
    entities: [products]
    measures: [line_amount, quantity]

metrics:
  revenue: { fact: orders, measure: amount, agg: sum, time: ordered_at }
  order_count: { fact: orders, agg: count }
  average_order_value: { type: ratio, numerator: revenue, denominator: order_count }
  revenue_7d: { type: cumulative, fact: orders, measure: amount, agg: sum, window: 7 days }
  revenue_per_order: { type: derived, expr: revenue / order_count, metrics: [revenue, order_count] }
";

#[test]
fn entities_facts_and_metrics_build_snapshot_and_load_incrementally_with_real_dbt() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    write(
        p,
        "dbt_project.yml",
        "name: shop\nversion: \"1.0\"\nconfig-version: 2\nprofile: shop\nmodel-paths: [\"models\"]\nsnapshot-paths: [\"snapshots\"]\nmodels:\n  shop:\n    staging:\n      +materialized: view\n    marts:\n      +materialized: table\n",
    );
    write(
        p,
        "profiles.yml",
        "shop:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 2\n",
    );
    write(p, "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    write(
        p,
        "models/staging/_sources.yml",
        "sources:\n  - name: shop\n    schema: raw_shop\n    tables:\n      - name: customers\n      - name: products\n      - name: orders\n      - name: order_lines\n",
    );
    write(p, "datachonk/model.yml", SPEC);
    sql(&python, p, WAREHOUSE);

    // Staging from the catalog and the spec's marts, in one run.
    dbt(&dbt_bin, p, &["docs", "generate"]);
    let (code, out) = datachonk(p, &["generate", "--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 0, "{out}");
    for f in [
        "models/staging/shop/stg_shop__customers.sql",
        "snapshots/customers_snapshot.yml",
        "models/marts/dim_customers.sql",
        "models/marts/dim_products.sql",
        "models/marts/fct_orders.sql",
        "models/marts/fct_order_lines.sql",
        "models/marts/_metrics.yml",
        "models/marts/metricflow_time_spine.sql",
    ] {
        assert!(p.join(f).is_file(), "{f} not written:\n{out}");
    }
    assert!(read(p, "models/marts/fct_orders.sql").contains("materialized='incremental'"));

    dbt(
        &dbt_bin,
        p,
        &["parse", "--warn-error", "--no-partial-parse"],
    );
    let manifest = read(p, "target/semantic_manifest.json");
    for name in [
        "\"revenue\"",
        "\"average_order_value\"",
        "\"revenue_7d\"",
        "\"revenue_per_order\"",
        "\"amount_sum\"",
    ] {
        assert!(
            manifest.contains(name),
            "{name} not in the semantic manifest"
        );
    }
    // The first time, the snapshot's staging view must exist: `dbt build` runs everything in
    // the DAG's order (staging, snapshot, dimensions, facts, tests).
    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");
    assert!(
        build.contains("snapshotted main.customers_snapshot"),
        "{build}"
    );

    // With the built models in the catalog, the spec is checked column by column; a rerun
    // writes nothing.
    dbt(&dbt_bin, p, &["docs", "generate"]);
    let (code, out) = datachonk(p, &["generate", "--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("wrote 0 file(s)"), "{out}");
    write(
        p,
        "datachonk/model.yml",
        &SPEC.replace(
            "[customer_name, email, country]",
            "[customer_name, e_mail, country]",
        ),
    );
    let (code, out) = datachonk(p, &["generate", "--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("datachonk/model.yml:5:33: unknown column `e_mail` (attribute) in model `stg_shop__customers` (write `email`)"), "{out}");
    write(p, "datachonk/model.yml", SPEC);

    // Relationships on DuckDB (from the real catalog): naming patterns and the spec's keys.
    let (code, out) = datachonk(p, &["--json", "relationships"]);
    assert_eq!(code, 0, "{out}");
    // stdout's JSON document comes first (then stderr).
    let doc: serde_json::Value = serde_json::Deserializer::from_str(&out)
        .into_iter()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("no JSON: {out}"));
    let found: Vec<String> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}.{} -> {}.{} {} {}",
                r["from"]["relation"].as_str().unwrap(),
                r["from"]["columns"][0].as_str().unwrap(),
                r["to"]["relation"].as_str().unwrap(),
                r["to"]["columns"][0].as_str().unwrap(),
                r["confidence"],
                r["evidence"]
            )
        })
        .collect();
    for want in [
        "stg_shop__orders.customer_id -> stg_shop__customers.customer_id 0.8",
        "stg_shop__order_lines.product_id -> stg_shop__products.product_id 0.8",
        "stg_shop__order_lines.order_id -> stg_shop__orders.order_id 0.5",
        "raw_shop.orders.customer_id -> raw_shop.customers.customer_id 0.5",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(want)),
            "{want} not in {found:#?}"
        );
    }
    assert!(found
        .iter()
        .any(|f| f.contains("spec: entity customers has key customer_id")));

    let first_keys = sql(
        &python,
        p,
        "select order_id, customer_key from main.fct_orders order by order_id",
    );
    assert_eq!(first_keys.len(), 3, "{first_keys:?}");

    // Ada moves to France; order 100's amount is corrected (its time is not); a new order.
    sql(
        &python,
        p,
        "update raw_shop.customers set country = 'FR', updated_at = '2024-03-01 00:00:00' where customer_id = 1;
         update raw_shop.orders set amount = 999 where order_id = 100;
         insert into raw_shop.orders values (103, 1, 'placed', 7.5, '2024-03-05 09:00:00');
         select 1",
    );
    dbt(&dbt_bin, p, &["snapshot"]);
    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");

    let ada = sql(
        &python,
        p,
        "select country, valid_from, valid_to, is_current, version_number, customer_key from main.dim_customers where customer_id = 1 order by valid_from",
    );
    assert_eq!(ada.len(), 2, "two versions of customer 1: {ada:?}");
    let v1: Vec<&str> = ada[0].split('|').collect();
    let v2: Vec<&str> = ada[1].split('|').collect();
    assert_eq!(
        &v1[..5],
        [
            "UK",
            "2024-01-01 00:00:00",
            "2024-03-01 00:00:00",
            "False",
            "1"
        ],
        "{ada:?}"
    );
    assert_eq!(
        &v2[..5],
        ["FR", "2024-03-01 00:00:00", "", "True", "2"],
        "{ada:?}"
    );
    assert_ne!(v1[5], v2[5], "each version has its own surrogate key");
    let grace = sql(
        &python,
        p,
        "select count(*), bool_and(is_current) from main.dim_customers where customer_id = 2",
    );
    assert_eq!(grace, ["1|True"]);

    let orders = sql(
        &python,
        p,
        "select order_id, amount, customer_key from main.fct_orders order by order_id",
    );
    assert_eq!(orders.len(), 4, "{orders:?}");
    let amounts: Vec<&str> = orders
        .iter()
        .map(|r| r.split('|').nth(1).unwrap())
        .collect();
    assert_eq!(
        amounts,
        ["12.5", "10.0", "2.5", "7.5"],
        "only the new order was loaded: {orders:?}"
    );
    let keys: Vec<&str> = orders
        .iter()
        .map(|r| r.split('|').nth(2).unwrap())
        .collect();
    assert_eq!(
        keys[0], v1[5],
        "an order placed before the change keeps the old version"
    );
    assert_eq!(keys[2], v1[5]);
    assert_eq!(
        keys[3], v2[5],
        "the new order joins the customer's new version"
    );
    for (before, after) in first_keys.iter().zip(&orders) {
        assert_eq!(
            before.split('|').nth(1),
            after.split('|').nth(2),
            "{before} / {after}"
        );
    }
}
