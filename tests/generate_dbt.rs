//! Proof with real dbt: a DuckDB warehouse with awkwardly named tables, a real `catalog.json`
//! from `dbt docs generate`, `datachonk generate`, then `dbt parse --warn-error` (no
//! deprecations) and `dbt build` (every generated model builds, every generated test passes).
//!
//! dbt comes from `bash scripts/setup-test-deps` (a virtualenv at
//! `~/.cache/datachonk/dbt-venv`) or `$DATACHONK_TEST_DBT`. Without it this test FAILS: it
//! never passes silently. One test function: dbt starts in ~2.5 s each time.

use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::{dbt, dbt_path, run_ok as run};

const WAREHOUSE_SQL: &str = r#"
create schema raw;
create table raw.orders ("ID" integer, "customerId" integer, "order" varchar, "Total Amount" decimal(18,2), "2fa" boolean, "createdAt" timestamp);
insert into raw.orders values (1, 10, 'A-1', 12.50, true, '2024-01-01 10:00:00'), (2, 11, 'A-2', 3.00, false, '2024-01-02 11:00:00');
comment on table raw.orders is 'One row per order: "quoted" and {{ braces }}';
comment on column raw.orders."ID" is 'Order id; {% not a tag %}';
create table raw."Order Items" (order_item_id integer, "Order ID" integer, "select" varchar);
insert into raw."Order Items" values (100, 1, 'x'), (101, 2, 'y');
create table raw."Customers" ("CustomerID" integer, "firstName" varchar, "Group" varchar);
insert into raw."Customers" values (10, 'Ada', 'a'), (11, 'Grace', 'b');
create table raw."2021_sales" (id integer, amount double, "from" date);
insert into raw."2021_sales" values (1, 1.5, '2021-01-01'), (2, 2.5, '2021-02-01');
create table raw."{{ t }}" (id integer, "{{ x }}" varchar, "{% raw %}" varchar, "{# c #}" varchar);
insert into raw."{{ t }}" values (1, 'a', 'b', 'c');
comment on column raw."{{ t }}"."{{ x }}" is '{{ x }} again {% endraw %}';
"#;

#[test]
fn generated_staging_layer_parses_and_builds_with_real_dbt() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // The raw tables, and a catalog of their columns from dbt itself (names only declared for it).
    real_dbt::duckdb_project_with_catalog(&dbt_bin, p, WAREHOUSE_SQL, "sources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n      - name: order_items\n        identifier: Order Items\n      - name: customers\n        identifier: Customers\n      - name: sales_2021\n        identifier: 2021_sales\n      - name: t\n        identifier: \"{{ '{{' }} t }}\"\n        quoting: {identifier: true}\n");

    std::fs::write(
        p.join("datachonk.yaml"),
        "generate:\n  dialect: duckdb\n  loaded_at_field: _loaded_at\n  freshness:\n    warn_after: {count: 12, period: hour}\n  type_map:\n    decimal(18,2): double\n",
    )
    .unwrap();
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(["generate", "--from-catalog", "catalog.json"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("5 table(s) in 1 source(s): 7 new"),
        "{stderr}"
    );
    let sql = std::fs::read_to_string(p.join("models/staging/shop/stg_shop__orders.sql")).unwrap();
    assert!(sql.contains("\"order\" as order_"), "{sql}");
    // Names from the warehouse that look like Jinja are text to dbt, not code.
    let sql = std::fs::read_to_string(p.join("models/staging/shop/stg_shop__t.sql")).unwrap();
    assert!(
        sql.contains("\"{{ '{{' }} x }}\" as x,") && sql.contains("\"{{ '{%' }} raw %}\" as raw,"),
        "{sql}"
    );

    let parse = dbt(
        &dbt_bin,
        p,
        &["parse", "--warn-error", "--no-partial-parse"],
    );
    assert!(
        !parse.to_lowercase().contains("deprecat"),
        "dbt parse reported deprecations:\n{parse}"
    );

    let build = dbt(&dbt_bin, p, &["build"]);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("target/run_results.json")).unwrap()).unwrap();
    let nodes = results["results"].as_array().unwrap();
    let models: Vec<&str> = nodes
        .iter()
        .filter_map(|r| r["unique_id"].as_str())
        .filter(|id| id.starts_with("model."))
        .collect();
    let tests = nodes
        .iter()
        .filter(|r| {
            r["unique_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("test."))
        })
        .count();
    assert_eq!(models.len(), 5, "{build}");
    // unique + not_null on orders.id, order_items.order_item_id, customers.customer_id,
    // sales_2021.id, t.id.
    assert_eq!(tests, 10, "{build}");
    for r in nodes {
        assert!(
            matches!(r["status"].as_str(), Some("success" | "pass")),
            "{} ended {}:\n{build}",
            r["unique_id"],
            r["status"]
        );
    }

    // Regenerating changes nothing.
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .args(["generate", "--from-catalog", "catalog.json", "--check"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("0 new, 0 changed, 7 unchanged"), "{stderr}");

    // The Jinja-looking names kept their literal text: in the SQL dbt ran, in the source
    // dbt declared, and in the view it built.
    let compiled = std::fs::read_to_string(
        p.join("target/compiled/chonk/models/staging/shop/stg_shop__t.sql"),
    )
    .unwrap();
    for expected in [
        "\"{{ x }}\" as x,",
        "\"{% raw %}\" as raw,",
        "\"{# c #}\" as c",
        "{{ t }}",
    ] {
        assert!(
            compiled.contains(expected),
            "{expected} not in:\n{compiled}"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("target/manifest.json")).unwrap()).unwrap();
    let source = &manifest["sources"]["source.chonk.shop.t"];
    assert_eq!(source["identifier"], "{{ t }}", "{source}");
    let mut columns: Vec<&str> = source["columns"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    columns.sort_unstable();
    assert_eq!(columns, ["id", "{# c #}", "{% raw %}", "{{ x }}"]);
    let mut py = Process::new(&python);
    py.current_dir(p).args([
        "-c",
        "import duckdb; c = duckdb.connect('warehouse.duckdb', read_only=True); print(c.execute('select x, raw, c from main.stg_shop__t').fetchall())",
    ]);
    let rows = run(&mut py, "read the built view");
    assert_eq!(rows.trim(), "[('a', 'b', 'c')]");
}
