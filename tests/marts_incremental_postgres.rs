//! Issue 22 §2 on PostgreSQL (dbt-postgres): an incremental fact re-reading a window of its
//! event time (`lookback: 3 days`, `delete+insert`) equals a `--full-refresh` build of the same
//! model row for row after a late order, a corrected amount, new orders and a customer that
//! arrives after its orders (which pointed at the unknown member until then).
//!
//! PostgreSQL and dbt-postgres come from `bash scripts/setup-test-deps`; without them this test
//! FAILS.

mod marts_support;
mod pg_server;
mod real_dbt;

use marts_support::{datachonk, read, write};
use pg_server::Server;
use real_dbt::{dbt, dbt_path};

const WAREHOUSE: &str = "
create schema raw_shop;
create table raw_shop.customers (customer_id integer primary key, customer_name text, country text);
insert into raw_shop.customers values (1, 'Ada', 'UK'), (2, 'Grace', 'US');
create table raw_shop.orders (order_id integer primary key, customer_id integer, amount numeric(10,2), ordered_at timestamp);
insert into raw_shop.orders values
  (100, 1, 10, '2024-03-01 10:00:00'), (101, 2, 20, '2024-03-05 10:00:00'),
  (102, 99, 30, '2024-03-09 10:00:00'), (103, 1, 40, '2024-03-10 10:00:00');
";

const CHANGES: &str = "
insert into raw_shop.orders values (104, 2, 50, '2024-03-08 09:00:00');
update raw_shop.orders set amount = 45 where order_id = 103;
insert into raw_shop.orders values (105, 1, 60, '2024-03-12 10:00:00'), (106, 99, 70, '2024-03-12 11:00:00');
insert into raw_shop.customers values (99, 'Late Lovelace', 'FR');
";

const SPEC: &str = "\
entities:
  customers: { from: stg_customers, key: customer_id, attributes: [customer_name, country] }
facts:
  orders:
    from: stg_orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    time: ordered_at
    incremental: { lookback: 3 days }
";

#[test]
fn an_incremental_fact_equals_a_full_refresh_on_postgres() {
    let dbt_bin = dbt_path();
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client.batch_execute(WAREHOUSE).expect("create the tables");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    write(
        p,
        "dbt_project.yml",
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\nmodel-paths: [models]\nmodels:\n  shop:\n    staging:\n      +materialized: view\n",
    );
    write(
        p,
        "profiles.yml",
        &format!("shop:\n  target: ci\n  outputs:\n    ci:\n      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      password: ''\n      dbname: postgres\n      schema: analytics\n      threads: 2\n", server.port),
    );
    write(p, "datachonk.yaml", "generate:\n  dialect: postgres\n");
    write(
        p,
        "models/staging/_sources.yml",
        "sources:\n  - name: shop\n    schema: raw_shop\n    tables:\n      - name: customers\n      - name: orders\n",
    );
    write(
        p,
        "models/staging/stg_customers.sql",
        "select * from {{ source('shop', 'customers') }}\n",
    );
    write(
        p,
        "models/staging/stg_orders.sql",
        "select * from {{ source('shop', 'orders') }}\n",
    );
    write(p, "datachonk/model.yml", SPEC);
    let (code, out) = datachonk(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    let fct = read(p, "models/marts/fct_orders.sql");
    assert!(
        fct.contains("incremental_strategy='delete+insert'"),
        "{fct}"
    );

    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");
    let row = client
        .query_one(
            "select customer_key from analytics.fct_orders where order_id = 102",
            &[],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "-1",
        "the orphan points at the unknown member"
    );

    client.batch_execute(CHANGES).expect("change the source");
    let build = dbt(&dbt_bin, p, &["build"]);
    assert!(build.contains("Completed successfully"), "{build}");
    client
        .batch_execute(
            "create table analytics.incremental_copy as select * from analytics.fct_orders",
        )
        .unwrap();
    dbt(
        &dbt_bin,
        p,
        &["run", "--full-refresh", "--select", "fct_orders"],
    );
    let diff = client
        .query_one(
            "select (select count(*) from (select * from analytics.incremental_copy except all select * from analytics.fct_orders) a),
                    (select count(*) from (select * from analytics.fct_orders except all select * from analytics.incremental_copy) b),
                    (select count(*) from analytics.fct_orders),
                    (select sum(amount)::text from analytics.incremental_copy),
                    (select count(*) from analytics.incremental_copy where customer_key = '-1')",
            &[],
        )
        .unwrap();
    assert_eq!(
        (
            diff.get::<_, i64>(0),
            diff.get::<_, i64>(1),
            diff.get::<_, i64>(2),
            diff.get::<_, String>(3),
            diff.get::<_, i64>(4)
        ),
        (0, 0, 7, "285.00".to_string(), 0),
        "the incremental table equals a full refresh row for row"
    );
}
