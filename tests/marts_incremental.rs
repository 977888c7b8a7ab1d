//! Issue 22 §1-2 with real dbt-core + dbt-duckdb: incremental facts equal a full refresh, and
//! orphans are never hidden.
//!
//! Orders carry an event time (`ordered_at`) and a change time (`updated_at`). Two facts load
//! them incrementally, one on the change column (`updated_at:`), one by re-reading a window of
//! the event time (`lookback: 3 days`). An order's customer does not exist yet (an orphan): it
//! points at the customer dimension's unknown member and is counted. Then the source changes:
//! a late order (event time before the table's latest), a corrected amount on a loaded order,
//! new orders, and the missing customer arrives. After an incremental `dbt build`, each fact is
//! copied aside, rebuilt with `--full-refresh`, and the two are compared row for row (both
//! `except` directions empty, same count). A third fact with `orphans: fail` makes the build's
//! tests fail on the orphan.
//!
//! dbt comes from `bash scripts/setup-test-deps` (or `$DATACHONK_TEST_DBT`); without it this
//! test FAILS.

mod marts_support;
mod real_dbt;

use marts_support::{datachonk, duckdb_project, read, sql, write};
use real_dbt::{dbt, dbt_command, dbt_path};

const WAREHOUSE: &str = "
create schema raw_shop;
create table raw_shop.customers (customer_id integer primary key, customer_name varchar, country varchar);
insert into raw_shop.customers values (1, 'Ada', 'UK'), (2, 'Grace', 'US');
create table raw_shop.orders (order_id integer primary key, customer_id integer, amount double, ordered_at timestamp, updated_at timestamp);
insert into raw_shop.orders values
  (100, 1, 10, '2024-03-01 10:00:00', '2024-03-01 10:00:00'),
  (101, 2, 20, '2024-03-05 10:00:00', '2024-03-05 10:00:00'),
  (102, 99, 30, '2024-03-09 10:00:00', '2024-03-09 10:00:00'),
  (103, 1, 40, '2024-03-10 10:00:00', '2024-03-10 10:00:00');
select 1
";

const CHANGES: &str = "
insert into raw_shop.orders values (104, 2, 50, '2024-03-08 09:00:00', '2024-03-11 08:00:00');
update raw_shop.orders set amount = 45, updated_at = '2024-03-11 09:00:00' where order_id = 103;
insert into raw_shop.orders values (105, 1, 60, '2024-03-12 10:00:00', '2024-03-12 10:00:00'),
                                   (106, 99, 70, '2024-03-12 11:00:00', '2024-03-12 11:00:00');
insert into raw_shop.customers values (99, 'Late Lovelace', 'FR');
select 1
";

const SPEC: &str = "\
entities:
  customers: { from: stg_shop__customers, key: customer_id, attributes: [customer_name, country] }

facts:
  orders_by_change:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    time: ordered_at
    incremental: { updated_at: updated_at }
  orders_by_window:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    time: ordered_at
    incremental: { lookback: 3 days }
  orders_on_event_time:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    time: ordered_at
    incremental: { updated_at: ordered_at }
";

#[test]
fn incremental_facts_equal_a_full_refresh_and_orphans_point_at_the_unknown_member() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    duckdb_project(p, &["customers", "orders"], SPEC);
    sql(&python, p, WAREHOUSE);
    dbt(&dbt_bin, p, &["docs", "generate"]);
    let (code, out) = datachonk(p, &["generate", "--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 0, "{out}");
    // Loading on the event time is valid but loses late rows and corrections: said, at its place.
    assert!(
        out.contains("datachonk/model.yml:25:18: fact `orders_on_event_time` loads incrementally on `ordered_at`, its event time"),
        "{out}"
    );
    assert!(!out.contains("`orders_by_change` loads"), "{out}");
    let fct = read(p, "models/marts/fct_orders_by_window.sql");
    assert!(
        fct.contains("incremental_strategy='delete+insert'"),
        "{fct}"
    );
    assert!(fct.contains("dbt.dateadd('day', -3, "), "{fct}");
    assert!(
        read(p, "models/marts/dim_customers.sql").contains("{{ config(materialized='table') }}"),
        "marts are tables by default"
    );

    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");
    // The orphan is kept, pointing at the unknown member, whose text attributes say so.
    let orphan = sql(
        &python,
        p,
        "select f.customer_key, d.customer_name, d.country, d.customer_id from main.fct_orders_by_change f join main.dim_customers d using (customer_key) where f.order_id = 102",
    );
    assert_eq!(orphan, ["-1|Unknown|Unknown|"]);
    let total = sql(
        &python,
        p,
        "select count(*), sum(amount) from main.fct_orders_by_window",
    );
    assert_eq!(total, ["4|100.0"], "no order is dropped");

    sql(&python, p, CHANGES);
    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");

    for model in ["fct_orders_by_change", "fct_orders_by_window"] {
        let incremental = sql(
            &python,
            p,
            &format!(
                "create or replace table main.incremental_copy as select * from main.{model}; select count(*), sum(amount) from main.incremental_copy"
            ),
        );
        assert_eq!(
            incremental,
            ["7|285.0"],
            "{model}: the late order, the correction and the new orders arrived"
        );
        let late_member = sql(
            &python,
            p,
            &format!("select count(*) from main.{model} where customer_key = '-1'"),
        );
        assert_eq!(
            late_member,
            ["0"],
            "{model}: rows loaded before their customer arrived now point at it"
        );
        dbt(&dbt_bin, p, &["run", "--full-refresh", "--select", model]);
        let diff = sql(
            &python,
            p,
            &format!(
                "select (select count(*) from (select * from main.incremental_copy except all select * from main.{model})), (select count(*) from (select * from main.{model} except all select * from main.incremental_copy)), (select count(*) from main.{model})"
            ),
        );
        assert_eq!(
            diff,
            ["0|0|7"],
            "{model}: the incremental table equals a full refresh row for row"
        );
    }
    // On the event time, the late order is lost (what the warning said).
    let lost = sql(
        &python,
        p,
        "select count(*) from main.fct_orders_on_event_time where order_id = 104",
    );
    assert_eq!(lost, ["0"]);

    // `orphans: fail`: the key stays null and the build's tests fail on it.
    write(
        p,
        "datachonk/model.yml",
        &format!("{SPEC}  strict_orders: {{ from: stg_shop__orders, grain: order_id, entities: [customers], orphans: fail }}\n"),
    );
    sql(
        &python,
        p,
        "insert into raw_shop.orders values (107, 42, 1, '2024-03-13 10:00:00', '2024-03-13 10:00:00'); select 1",
    );
    let (code, out) = datachonk(p, &["generate", "--from-catalog", "target/catalog.json"]);
    assert_eq!(code, 0, "{out}");
    let out = dbt_command(&dbt_bin, p, &["build", "--select", "fct_strict_orders"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "an orphan must fail the build: {text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("FAIL 1") && l.contains("not_null_fct_strict_orders_customer_key")),
        "{text}"
    );
}
