//! Issue 22 §5: relationships found precisely, measured. A rental schema designed for it on a
//! real PostgreSQL server: role-named keys (`manager_staff_id` → staff, `original_language_id`
//! → languages, one of them a self-reference), a view repeating customer columns, a payments
//! table partitioned by month, and one column only its values relate (`promotions.featured`
//! holds film ids). The same tables twice: schema `rent_plain` declares no foreign key,
//! `rent_keys` declares all of them. `datachonk --json relationships` at the default threshold
//! is scored against the 15 true relationships: precision (found that are true / found) and
//! recall (true that are found / 15), printed and asserted (≥ 0.9 without keys, 1.0 with).
//! `--min-confidence` outside 0..1 exits 2.
//!
//! PostgreSQL comes from `bash scripts/setup-test-deps`; without it this test FAILS.

use std::collections::BTreeSet;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;

mod pg_server;
use pg_server::Server;

/// The tables, in `SCHEMA`; `KEYS` is replaced by the foreign keys' DDL or nothing.
const TABLES: &str = "
create schema SCHEMA;
create table SCHEMA.languages (language_id integer primary key, name text);
insert into SCHEMA.languages select g, 'language ' || g from generate_series(1, 4) g;
create table SCHEMA.stores (store_id integer primary key, manager_staff_id integer, city text);
insert into SCHEMA.stores values (1, 1, 'Lisbon'), (2, 2, 'Porto');
create table SCHEMA.staff (staff_id integer primary key, store_id integer, manager_staff_id integer, name text);
insert into SCHEMA.staff values (1, 1, null, 'Mike'), (2, 2, 1, 'Jon'), (3, 1, 1, 'Ana'), (4, 2, 2, 'Rui');
create table SCHEMA.customers (customer_id integer primary key, store_id integer, name text, active boolean);
insert into SCHEMA.customers select g, 1 + g % 2, 'customer ' || g, true from generate_series(1, 60) g;
create table SCHEMA.films (film_id integer primary key, title text, language_id integer, original_language_id integer, length smallint);
insert into SCHEMA.films select 1000 + g, 'film ' || g, 1 + g % 4, 1 + (g + 1) % 4, 80 + g from generate_series(1, 40) g;
create table SCHEMA.inventory (inventory_id integer primary key, film_id integer, store_id integer);
insert into SCHEMA.inventory select g, 1000 + 1 + g % 40, 1 + g % 2 from generate_series(1, 120) g;
create table SCHEMA.rentals (rental_id integer primary key, inventory_id integer, customer_id integer, staff_id integer, rented_on date, return_days integer);
insert into SCHEMA.rentals select g, 1 + g % 120, 1 + g % 60, 1 + g % 4, date '2024-01-01' + g % 60, 1 + g % 7 from generate_series(1, 300) g;
create table SCHEMA.payments (payment_id integer, customer_id integer, staff_id integer, rental_id integer, amount numeric(6,2), paid_on date, primary key (payment_id, paid_on)) partition by range (paid_on);
create table SCHEMA.payments_2024_01 partition of SCHEMA.payments for values from ('2024-01-01') to ('2024-02-01');
create table SCHEMA.payments_2024_02 partition of SCHEMA.payments for values from ('2024-02-01') to ('2024-03-01');
insert into SCHEMA.payments select g, 1 + g % 60, 1 + g % 4, 1 + g % 300, 2.99, date '2024-01-01' + g % 59 from generate_series(1, 400) g;
create table SCHEMA.promotions (promotion_id integer primary key, featured integer, starts_on date);
insert into SCHEMA.promotions select g, 1000 + g, date '2024-01-01' + g from generate_series(1, 30) g;
create view SCHEMA.customer_list as select c.customer_id, c.name, s.store_id, s.city from SCHEMA.customers c join SCHEMA.stores s using (store_id);
KEYS
";

/// The true relationships: (from table.column, to table.column).
const TRUTH: [(&str, &str); 15] = [
    ("stores.manager_staff_id", "staff.staff_id"),
    ("staff.store_id", "stores.store_id"),
    ("staff.manager_staff_id", "staff.staff_id"),
    ("customers.store_id", "stores.store_id"),
    ("films.language_id", "languages.language_id"),
    ("films.original_language_id", "languages.language_id"),
    ("inventory.film_id", "films.film_id"),
    ("inventory.store_id", "stores.store_id"),
    ("rentals.inventory_id", "inventory.inventory_id"),
    ("rentals.customer_id", "customers.customer_id"),
    ("rentals.staff_id", "staff.staff_id"),
    ("payments.customer_id", "customers.customer_id"),
    ("payments.staff_id", "staff.staff_id"),
    ("payments.rental_id", "rentals.rental_id"),
    ("promotions.featured", "films.film_id"),
];

fn keys_ddl(schema: &str) -> String {
    TRUTH
        .iter()
        .map(|(from, to)| {
            let (ft, fc) = from.split_once('.').unwrap();
            let (tt, tc) = to.split_once('.').unwrap();
            format!("alter table {schema}.{ft} add foreign key ({fc}) references {schema}.{tt} ({tc});\n")
        })
        .collect()
}

/// `datachonk ARGS` in `dir`: (exit code, stdout, stderr).
fn datachonk(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// (precision, recall, what was found) of `relationships` on `schema` at the default threshold.
fn score(server: &Server, dir: &std::path::Path, schema: &str) -> (f64, f64, Vec<String>) {
    let url = server.url("postgres", &format!("?schema={schema}"));
    let (code, out, err) = datachonk(dir, &["--json", "relationships", "--from-postgres", &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("2 partition(s) read as their parent table"),
        "{err}"
    );
    assert!(err.contains("1 view(s) left out"), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found: BTreeSet<String> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let end = |e: &serde_json::Value| {
                format!(
                    "{}.{}",
                    e["relation"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches(&format!("{schema}.")),
                    e["columns"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            };
            format!("{} -> {}", end(&r["from"]), end(&r["to"]))
        })
        .collect();
    let truth: BTreeSet<String> = TRUTH.iter().map(|(f, t)| format!("{f} -> {t}")).collect();
    let right = found.intersection(&truth).count() as f64;
    let precision = if found.is_empty() {
        0.0
    } else {
        right / found.len() as f64
    };
    let recall = right / truth.len() as f64;
    let mut shown: Vec<String> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} -> {} {} [{}]",
                r["from"]["relation"], r["to"]["relation"], r["confidence"], r["evidence"]
            )
        })
        .collect();
    shown.sort();
    let mut wrong: Vec<String> = found.difference(&truth).cloned().collect();
    wrong.extend(truth.difference(&found).map(|m| format!("MISSED {m}")));
    shown.extend(wrong);
    (precision, recall, shown)
}

#[test]
fn relationships_are_precise_on_a_schema_with_roles_a_view_partitions_and_values_only() {
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client
        .batch_execute(&TABLES.replace("SCHEMA", "rent_plain").replace("KEYS", ""))
        .expect("create rent_plain");
    client
        .batch_execute(
            &TABLES
                .replace("SCHEMA", "rent_keys")
                .replace("KEYS", &keys_ddl("rent_keys")),
        )
        .expect("create rent_keys");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();

    let (precision, recall, shown) = score(&server, p, "rent_plain");
    eprintln!(
        "no declared keys: precision {precision:.2}, recall {recall:.2}\n{}",
        shown.join("\n")
    );
    assert!(
        precision >= 0.9 && recall >= 0.9,
        "precision {precision:.2}, recall {recall:.2}:\n{}",
        shown.join("\n")
    );
    let (precision, recall, shown) = score(&server, p, "rent_keys");
    eprintln!("declared keys: precision {precision:.2}, recall {recall:.2}");
    assert_eq!((precision, recall), (1.0, 1.0), "{}", shown.join("\n"));

    // The view, when asked for, is read: its customer_id refers to customers.
    let url = server.url("postgres", "?schema=rent_plain");
    let (code, out, err) = datachonk(
        p,
        &["relationships", "--from-postgres", &url, "--include-views"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("rent_plain.customer_list.customer_id → rent_plain.customers.customer_id"),
        "{out}"
    );

    for bad in ["1.5", "-0.1"] {
        let flag = format!("--min-confidence={bad}");
        let (code, _, err) = datachonk(p, &["relationships", "--from-postgres", &url, &flag]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(&format!("--min-confidence {bad} is outside 0..1")),
            "{err}"
        );
    }
}
