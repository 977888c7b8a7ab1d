//! Names a person would write (issue 20 §3), proven with real dbt on DuckDB: loader prefixes
//! stripped from model names (`raw_orders` → `stg_shop__orders`) while the source keeps the
//! project's names; dbt Labs' style renames (`id` → `order_id` as the key, `_ts` → `_at`,
//! `_dt`/`_on` → `_date`) the same in the SQL, the YAML and the tests that follow them; no
//! `description: ""` anywhere. Then `dbt parse --warn-error`, `dbt build` green, `--check`
//! clean and a second run writing nothing.
//!
//! dbt comes from `bash scripts/setup-test-deps` (`~/.cache/datachonk/dbt-venv`) or
//! `$DATACHONK_TEST_DBT`. Without it this test FAILS: it never passes silently.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::{dbt, dbt_path, run_ok as run};

const WAREHOUSE_SQL: &str = r#"
create schema raw;
create table raw.raw_orders (id integer, customer_id integer, created_ts timestamp,
                             order_dt date, status varchar, is_paid boolean);
insert into raw.raw_orders values (1, 10, '2024-01-01 10:00:00', '2024-01-01', 'placed', true),
                                  (2, 11, '2024-01-02 11:00:00', '2024-01-02', 'shipped', false);
comment on column raw.raw_orders.status is 'Where the order is';
create table raw.raw_customers (id integer, first_name varchar, signed_up_on date,
                                updated_timestamp timestamp);
insert into raw.raw_customers values (10, 'Ada', '2023-05-01', '2024-01-01 00:00:00'),
                                     (11, 'Grace', '2023-06-01', '2024-01-01 00:00:00');
create table raw.order_items (order_item_id integer, order_id integer, quantity integer);
insert into raw.order_items values (100, 1, 2), (101, 2, 1);
"#;

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn generate(p: &Path, extra: &[&str]) -> (String, String) {
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(["generate", "--from-catalog", "catalog.json"])
        .args(extra)
        .assert()
        .success();
    let o = out.get_output();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn names_are_stripped_and_styled_alike_in_sql_yaml_and_tests_and_dbt_builds_them() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    // The raw tables, and a catalog of their columns from dbt itself (names only declared for it).
    real_dbt::duckdb_project_with_catalog(&dbt_bin, p, WAREHOUSE_SQL, "sources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: raw_orders\n      - name: raw_customers\n      - name: order_items\n");
    std::fs::write(p.join("datachonk.yaml"), "generate:\n  dialect: duckdb\n").unwrap();

    let (_, stderr) = generate(p, &[]);
    assert!(
        stderr.contains("3 table(s) in 1 source(s): 5 new"),
        "{stderr}"
    );
    let dir_s = "models/staging/shop";
    // Model names without the loader's prefix; the source keeps the raw table names.
    for f in [
        "stg_shop__orders.sql",
        "stg_shop__customers.sql",
        "stg_shop__order_items.sql",
    ] {
        assert!(p.join(dir_s).join(f).is_file(), "{f} missing");
    }
    let orders = read(p, &format!("{dir_s}/stg_shop__orders.sql"));
    assert!(
        orders.contains("{{ source('shop', 'raw_orders') }}"),
        "{orders}"
    );
    for line in [
        "id as order_id,",
        "customer_id,",
        "created_ts as created_at,",
        "order_dt as order_date,",
        // A boolean with its prefix, and booleans without one, are left as they are.
        "is_paid\n",
    ] {
        assert!(orders.contains(line), "{line:?} not in:\n{orders}");
    }
    let customers = read(p, &format!("{dir_s}/stg_shop__customers.sql"));
    for line in [
        "id as customer_id,",
        "signed_up_on as signed_up_date,",
        "updated_timestamp as updated_at\n",
    ] {
        assert!(customers.contains(line), "{line:?} not in:\n{customers}");
    }
    // A key already named for its entity is not renamed.
    let items = read(p, &format!("{dir_s}/stg_shop__order_items.sql"));
    assert!(items.contains("order_item_id,\n"), "{items}");

    // The YAML names the same columns, and the key tests follow the renamed key.
    let models = read(p, &format!("{dir_s}/_shop__models.yml"));
    assert!(
        models.contains("  - name: stg_shop__orders\n    columns:\n      - name: order_id\n        data_type: INTEGER\n        data_tests:\n          - unique\n          - not_null\n"),
        "{models}"
    );
    assert!(
        models.contains("      - name: customer_id\n        data_type: INTEGER\n        data_tests:\n          - unique\n          - not_null\n"),
        "{models}"
    );
    for name in ["created_at", "order_date", "signed_up_date", "updated_at"] {
        assert!(
            models.contains(&format!("      - name: {name}\n")),
            "{name} not in:\n{models}"
        );
    }
    for old in ["- name: id\n", "created_ts", "order_dt", "signed_up_on"] {
        assert!(!models.contains(old), "{old:?} in:\n{models}");
    }
    // Descriptions only where there is one.
    let sources = read(p, &format!("{dir_s}/_shop__sources.yml"));
    for (name, text) in [("sources", &sources), ("models", &models)] {
        assert!(
            !text.contains("description: \"\"") && !text.contains("description: ''"),
            "{name} has an empty description:\n{text}"
        );
    }
    assert!(
        sources.contains("      - name: raw_orders\n"),
        "the source keeps its table names:\n{sources}"
    );
    assert!(
        models.contains("      - name: status\n        data_type: VARCHAR\n        description: Where the order is\n"),
        "{models}"
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
    let ids: Vec<&str> = nodes
        .iter()
        .filter_map(|r| r["unique_id"].as_str())
        .collect();
    assert_eq!(
        ids.iter().filter(|id| id.starts_with("model.")).count(),
        3,
        "{build}"
    );
    // unique + not_null on order_id, customer_id and order_item_id: named after the renames.
    for key in [
        "unique_stg_shop__orders_order_id",
        "not_null_stg_shop__orders_order_id",
        "unique_stg_shop__customers_customer_id",
    ] {
        assert!(
            ids.iter()
                .any(|id| id.starts_with(&format!("test.chonk.{key}"))),
            "{key} not run:\n{build}"
        );
    }
    assert_eq!(
        ids.iter().filter(|id| id.starts_with("test.")).count(),
        6,
        "{build}"
    );
    for r in nodes {
        assert!(
            matches!(r["status"].as_str(), Some("success" | "pass")),
            "{} ended {}:\n{build}",
            r["unique_id"],
            r["status"]
        );
    }
    // What the model selects is what the YAML says: the renamed columns exist in the view.
    let mut py = Process::new(&python);
    py.current_dir(p).args([
        "-c",
        "import duckdb; c = duckdb.connect('warehouse.duckdb', read_only=True); print([d[0] for d in c.execute('select * from main.stg_shop__orders').description])",
    ]);
    let columns = run(&mut py, "read the built view");
    assert!(
        columns.contains(
            "['order_id', 'customer_id', 'created_at', 'order_date', 'status', 'is_paid']"
        ),
        "{columns}"
    );

    // Regenerating changes nothing; --check agrees.
    let (_, stderr) = generate(p, &[]);
    assert!(stderr.contains("0 new, 0 changed"), "{stderr}");
    assert!(stderr.contains("wrote 0 file(s)"), "{stderr}");
    generate(p, &["--check"]);

    // The rules are configuration: turned off, the plan names the tables and keys as raw.
    std::fs::write(
        p.join("datachonk.yaml"),
        "generate:\n  dialect: duckdb\n  naming:\n    strip_prefixes: []\n    primary_key: \"\"\n    timestamp_suffix: \"\"\n",
    )
    .unwrap();
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(["generate", "--diff", "--from-catalog", "catalog.json"])
        .assert()
        .success();
    let diff = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(diff.contains("stg_shop__raw_orders.sql"), "{diff}");
    assert!(diff.contains("+        id,\n"), "{diff}");
    assert!(diff.contains("+        created_ts,\n"), "{diff}");
    // Dates keep their own rule.
    assert!(diff.contains("order_dt as order_date"), "{diff}");
}
