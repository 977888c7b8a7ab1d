//! `datachonk relationships --from-postgres` against a real PostgreSQL server (issue 15 §3-4):
//! the foreign keys the database declares (one of them on two columns), with evidence and
//! confidence 1; a key it does not declare found by its name and confirmed by the overlap of
//! sampled values; one whose values do not match marked down; `--json`.
//!
//! PostgreSQL comes from `bash scripts/setup-test-deps`; without it this test FAILS.
//! (The throwaway server is tests/pg_server, shared with tests/generate_postgres.rs.)

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;

mod pg_server;
use pg_server::Server;

const SETUP_SQL: &str = "
create schema shop;
create table shop.customers (id integer primary key, name text);
insert into shop.customers values (1, 'Ada'), (2, 'Grace');
create table shop.products (product_id integer primary key, name text);
insert into shop.products values (10, 'Widget'), (11, 'Gadget');
create table shop.orders (order_id integer primary key, customer_id integer not null references shop.customers (id), placed_at date);
insert into shop.orders values (100, 1, '2024-02-01'), (101, 2, '2024-02-02');
create table shop.order_lines (order_id integer references shop.orders (order_id), line_number integer,
                               product_id integer, quantity integer, primary key (order_id, line_number));
insert into shop.order_lines values (100, 1, 10, 1), (100, 2, 11, 2), (101, 1, 11, 1);
create table shop.shipments (shipment_id integer primary key, order_id integer, line_number integer,
                             foreign key (order_id, line_number) references shop.order_lines (order_id, line_number));
insert into shop.shipments values (1, 100, 2);
create table shop.reviews (review_id integer primary key, customer_id integer);
insert into shop.reviews values (1, 1), (2, 7), (3, 8), (4, 9);
";

#[test]
fn declared_foreign_keys_naming_patterns_and_sampled_values_on_postgres() {
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client.batch_execute(SETUP_SQL).expect("create the tables");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    let url = server.url("postgres", "?schema=shop");
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args([
            "--json",
            "relationships",
            "--from-postgres",
            &url,
            "--min-confidence",
            "0",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let found: Vec<(String, f64, String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let end = |e: &serde_json::Value| {
                format!(
                    "{}({})",
                    e["relation"].as_str().unwrap(),
                    e["columns"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            (
                format!("{} -> {}", end(&r["from"]), end(&r["to"])),
                r["confidence"].as_f64().unwrap(),
                r["kind"].as_str().unwrap().to_string(),
                r["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .collect();
    let get = |key: &str| {
        found
            .iter()
            .find(|f| f.0 == key)
            .unwrap_or_else(|| panic!("{key} not found in {found:#?}"))
    };
    // Declared, one of them on two columns.
    let fk = get("shop.orders(customer_id) -> shop.customers(id)");
    assert_eq!((fk.1, fk.2.as_str()), (1.0, "foreign-key"), "{fk:?}");
    assert!(
        fk.3.contains("foreign key orders_customer_id_fkey declared in the database"),
        "{fk:?}"
    );
    let two = get("shop.shipments(order_id,line_number) -> shop.order_lines(order_id,line_number)");
    assert_eq!(two.1, 1.0, "{two:?}");
    get("shop.order_lines(order_id) -> shop.orders(order_id)");
    // Not declared: found by its name, every sampled value found in the target.
    let named = get("shop.order_lines(product_id) -> shop.products(product_id)");
    // Two matching values say little: above a name alone (0.7), well below 0.95.
    assert_eq!((named.1, named.2.as_str()), (0.78, "naming"), "{named:?}");
    assert!(
        named
            .3
            .contains("naming: product_id → products (its primary key)"),
        "{named:?}"
    );
    assert!(
        named
            .3
            .contains("values: 2 of 2 sampled distinct values found in shop.products"),
        "{named:?}"
    );
    // Named like a key, but most values are not there: marked down.
    let weak = get("shop.reviews(customer_id) -> shop.customers(id)");
    assert!(weak.1 < 0.3, "{weak:?}");
    assert!(
        weak.3
            .contains("values: 1 of 4 sampled distinct values found"),
        "{weak:?}"
    );

    // --min-confidence leaves the weak one out.
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args([
            "relationships",
            "--from-postgres",
            &url,
            "--min-confidence",
            "0.5",
        ])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success());
    assert!(human.contains("shop.orders.customer_id → shop.customers.id  1.00  foreign key orders_customer_id_fkey"), "{human}");
    assert!(!human.contains("shop.reviews"), "{human}");
}
