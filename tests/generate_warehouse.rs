//! `generate --from-warehouse SCHEMA[.TABLE]` (issue 20 §4): the tables and columns asked of
//! the project's own dbt (`dbt show` over the adapter's information schema), proven on DuckDB
//! and on a throwaway PostgreSQL server through real dbt-duckdb and dbt-postgres: the new
//! tables are declared and staged, `dbt parse --warn-error` and `dbt build` pass, a table
//! loaded later is added by a second run, `--check` is clean. And dbt's failures (dbt
//! missing, an unknown target, a table that is not there) are short messages, exit 2, never
//! a Python traceback.
//!
//! dbt, dbt-duckdb, dbt-postgres and PostgreSQL come from `bash scripts/setup-test-deps`.
//! Without them these tests FAIL with that instruction: they never pass silently.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::{dbt, dbt_path, run_ok as run};

mod pg_server;
use pg_server::Server;

const PROJECT: &str = "name: chonk\nversion: '1.0.0'\nconfig-version: 2\nprofile: chonk\nmodel-paths: [models]\nmodels:\n  chonk:\n    staging:\n      +materialized: view\n";

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `datachonk ARGS` in `p` with `dbt` as the project's dbt; (exit code, stdout, stderr).
fn datachonk(p: &Path, dbt: &Path, args: &[&str]) -> (i32, String, String) {
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .env("DATACHONK_DBT", dbt)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("DBT_TARGET_PATH")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(p: &Path, dbt: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = datachonk(p, dbt, args);
    assert_eq!(code, 0, "datachonk {args:?}:\n{stdout}\n{stderr}");
    stderr
}

/// dbt parse --warn-error and dbt build, every node green; the ids of what ran.
fn parse_and_build(dbt_bin: &Path, p: &Path) -> Vec<String> {
    let parse = dbt(dbt_bin, p, &["parse", "--warn-error", "--no-partial-parse"]);
    assert!(
        !parse.to_lowercase().contains("deprecat"),
        "dbt parse reported deprecations:\n{parse}"
    );
    let build = dbt(dbt_bin, p, &["build"]);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("target/run_results.json")).unwrap()).unwrap();
    let nodes = results["results"].as_array().unwrap();
    for r in nodes {
        assert!(
            matches!(r["status"].as_str(), Some("success" | "pass")),
            "{} ended {}:\n{build}",
            r["unique_id"],
            r["status"]
        );
    }
    nodes
        .iter()
        .filter_map(|r| r["unique_id"].as_str().map(str::to_string))
        .collect()
}

fn duckdb(python: &Path, p: &Path, sql: &str) {
    let mut py = Process::new(python);
    py.current_dir(p).args([
        "-c",
        &format!(
            "import duckdb; c = duckdb.connect('warehouse.duckdb'); c.execute({sql:?}); c.close()"
        ),
    ]);
    run(&mut py, "load the DuckDB warehouse");
}

#[test]
fn from_warehouse_on_duckdb_declares_stages_and_adds_a_table_loaded_later() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join("dbt_project.yml"), PROJECT).unwrap();
    std::fs::write(
        p.join("profiles.yml"),
        "chonk:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 1\n",
    )
    .unwrap();
    std::fs::create_dir_all(p.join("models")).unwrap();
    std::fs::write(p.join("datachonk.yaml"), "generate:\n  dialect: duckdb\n").unwrap();
    duckdb(
        &python,
        p,
        r#"
create schema raw;
create table raw.raw_orders (id integer, customer_id integer, "Ordered At" timestamp, note varchar);
comment on table raw.raw_orders is 'One row per order';
comment on column raw.raw_orders.note is 'Free text';
insert into raw.raw_orders values (1, 10, '2024-01-01 10:00:00', 'x'), (2, 10, '2024-01-02 10:00:00', null);
create table raw.raw_customers (id integer, "Name" varchar);
insert into raw.raw_customers values (10, 'Ada');
create schema other;
create table other.ignored (x integer);
"#,
    );

    let stderr = ok(p, &dbt_bin, &["generate", "--from-warehouse", "raw"]);
    assert!(
        stderr.contains("2 table(s) in 1 source(s): 4 new"),
        "{stderr}"
    );
    let dir_s = "models/staging/raw";
    let orders = read(p, &format!("{dir_s}/stg_raw__orders.sql"));
    for line in [
        "{{ source('raw', 'raw_orders') }}",
        "id as order_id,",
        "\"Ordered At\" as ordered_at,",
    ] {
        assert!(orders.contains(line), "{line} not in:\n{orders}");
    }
    let sources = read(p, &format!("{dir_s}/_raw__sources.yml"));
    assert!(sources.contains("schema: raw\n"), "{sources}");
    assert!(
        sources.contains("description: One row per order\n"),
        "{sources}"
    );
    assert!(sources.contains("data_type: TIMESTAMP\n"), "{sources}");
    assert!(!sources.contains("ignored"), "{sources}");
    let models = read(p, &format!("{dir_s}/_raw__models.yml"));
    assert!(
        models.contains(
            "      - name: note\n        data_type: VARCHAR\n        description: Free text\n"
        ),
        "{models}"
    );
    let ids = parse_and_build(&dbt_bin, p);
    assert_eq!(ids.iter().filter(|i| i.starts_with("model.")).count(), 2);
    // unique + not_null on order_id and customer_id.
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("test.")).count(),
        4,
        "{ids:?}"
    );

    // The views dbt built live in the target's schema, not in `raw`: nothing new to stage.
    let stderr = ok(
        p,
        &dbt_bin,
        &["generate", "--from-warehouse", "raw", "--check"],
    );
    assert!(stderr.contains("0 new, 0 changed"), "{stderr}");

    // The loader lands a new table: one run stages just it, and the source declares it.
    duckdb(
        &python,
        p,
        "create table raw.raw_payments (id integer, order_id integer, amount decimal(10,2), paid_ts timestamp); insert into raw.raw_payments values (7, 1, 9.50, '2024-01-03 00:00:00');",
    );
    let stderr = ok(
        p,
        &dbt_bin,
        &["generate", "--from-warehouse", "raw.RAW_PAYMENTS"],
    );
    assert!(
        stderr.contains("1 table(s) in 1 source(s): 1 new"),
        "{stderr}"
    );
    let payments = read(p, &format!("{dir_s}/stg_raw__payments.sql"));
    assert!(
        payments.contains("id as payment_id,") && payments.contains("paid_ts as paid_at\n"),
        "{payments}"
    );
    let sources = read(p, &format!("{dir_s}/_raw__sources.yml"));
    for t in ["raw_orders", "raw_customers", "raw_payments"] {
        assert!(
            sources.contains(&format!("- name: {t}\n")),
            "{t}:\n{sources}"
        );
    }
    let ids = parse_and_build(&dbt_bin, p);
    assert_eq!(ids.iter().filter(|i| i.starts_with("model.")).count(), 3);
    let stderr = ok(
        p,
        &dbt_bin,
        &["generate", "--from-warehouse", "raw", "--check"],
    );
    assert!(stderr.contains("3 table(s)"), "{stderr}");

    // Failures are dbt's message (or ours), exit 2, never a traceback.
    let refusals: [(&[&str], Option<&str>, &str); 4] = [
        (
            &["generate", "--from-warehouse", "raw.nope"],
            None,
            "the warehouse has no table raw.nope",
        ),
        (
            &["generate", "--from-warehouse", "raw", "--target", "nope"],
            None,
            "does not have a target named 'nope'",
        ),
        (
            &["generate", "--from-warehouse", "raw"],
            Some("/nonexistent/dbt"),
            "cannot run dbt (/nonexistent/dbt): not found",
        ),
        (
            &["generate", "--from-warehouse", "raw..x"],
            None,
            "expected SCHEMA or SCHEMA.TABLE",
        ),
    ];
    for (args, program, want) in refusals {
        let program = program.map_or_else(|| dbt_bin.clone(), PathBuf::from);
        let (code, _, stderr) = datachonk(p, &program, args);
        assert_eq!(code, 2, "{args:?}:\n{stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: {want:?} not in:\n{stderr}"
        );
        assert!(!stderr.contains("Traceback"), "{stderr}");
    }
    // No profile where dbt looks: dbt's own words, and where to look.
    std::fs::rename(p.join("profiles.yml"), p.join("elsewhere.yml")).unwrap();
    let (code, _, stderr) = datachonk(
        p,
        &dbt_bin,
        &["generate", "--from-warehouse", "raw", "--dry-run"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("dbt could not read the warehouse"),
        "{stderr}"
    );
    assert!(stderr.contains("profile"), "{stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
}

const PG_SQL: &str = r#"
create schema shop;
create table shop.customers ("CustomerID" integer primary key, "First Name" varchar(40),
                             created_ts timestamptz);
comment on column shop.customers."CustomerID" is 'The customer''s id';
insert into shop.customers values (10, 'Ada', now()), (11, 'Grace', now());
create table shop.raw_orders (id bigint primary key, customer_id integer, total numeric(18,2),
                              "Note" text);
alter table shop.raw_orders drop column "Note";
insert into shop.raw_orders values (1, 10, 1.50), (2, 11, 2.25);
create table shop.order_lines (order_id bigint, line_no integer, sku text,
                               primary key (order_id, line_no));
insert into shop.order_lines values (1, 1, 'A'), (1, 2, 'B');
create schema other;
create table other.not_selected (x integer);
"#;

#[test]
fn from_warehouse_on_postgres_through_dbt_postgres_stages_and_builds() {
    let dbt_bin = dbt_path();
    let probe = Process::new(dbt_bin.with_file_name("python"))
        .args(["-c", "import dbt.adapters.postgres"])
        .output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "dbt-postgres is not installed beside {}: run `bash scripts/setup-test-deps`",
        dbt_bin.display()
    );
    let server = Server::start();
    let mut client = postgres::Client::connect(&server.url("postgres", ""), postgres::NoTls)
        .expect("connect to the test server");
    client.batch_execute(PG_SQL).expect("create the tables");

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join("dbt_project.yml"), PROJECT).unwrap();
    std::fs::write(
        p.join("profiles.yml"),
        format!(
            "chonk:\n  target: ci\n  outputs:\n    ci:\n      type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      password: ''\n      dbname: postgres\n      schema: analytics\n      threads: 2\n",
            server.port
        ),
    )
    .unwrap();
    std::fs::create_dir_all(p.join("models")).unwrap();
    std::fs::write(p.join("datachonk.yaml"), "generate:\n  dialect: postgres\n").unwrap();

    let stderr = ok(p, &dbt_bin, &["generate", "--from-warehouse", "shop"]);
    assert!(
        stderr.contains("3 table(s) in 1 source(s): 5 new"),
        "{stderr}"
    );
    let dir_s = "models/staging/shop";
    let customers = read(p, &format!("{dir_s}/stg_shop__customers.sql"));
    for line in [
        "\"CustomerID\" as customer_id,",
        "\"First Name\" as first_name,",
        "created_ts as created_at\n",
    ] {
        assert!(customers.contains(line), "{line} not in:\n{customers}");
    }
    // Types as PostgreSQL spells them (the same as --from-postgres), dropped columns gone.
    let sources = read(p, &format!("{dir_s}/_shop__sources.yml"));
    assert!(
        sources.contains("data_type: character varying(40)"),
        "{sources}"
    );
    assert!(sources.contains("data_type: numeric(18,2)"), "{sources}");
    assert!(
        !sources.contains("Note") && !sources.contains("not_selected"),
        "{sources}"
    );
    let orders = read(p, &format!("{dir_s}/stg_shop__orders.sql"));
    assert!(orders.contains("id as order_id,"), "{orders}");
    // Keys from the catalog: the customers' key is not named id, yet it is tested; a
    // composite key gets no single-column unique test.
    let models = read(p, &format!("{dir_s}/_shop__models.yml"));
    assert!(
        models.contains("      - name: customer_id\n        data_type: integer\n        description: \"The customer's id\"\n        data_tests:\n          - unique\n          - not_null\n"),
        "{models}"
    );
    let lines = models
        .split("- name: stg_shop__order_lines")
        .nth(1)
        .and_then(|rest| rest.split("\n  - name: ").next())
        .unwrap_or_default();
    assert!(lines.contains("- name: line_no"), "{models}");
    assert!(!lines.contains("unique"), "{models}");

    let ids = parse_and_build(&dbt_bin, p);
    assert_eq!(ids.iter().filter(|i| i.starts_with("model.")).count(), 3);
    // unique + not_null on customers.customer_id and orders.order_id.
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("test.")).count(),
        4,
        "{ids:?}"
    );
    let stderr = ok(
        p,
        &dbt_bin,
        &["generate", "--from-warehouse", "shop", "--check"],
    );
    assert!(stderr.contains("0 new, 0 changed"), "{stderr}");
}

#[test]
fn a_dbt_that_never_answers_is_stopped_at_the_dbt_timeout_with_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    std::fs::write(p.join("dbt_project.yml"), "name: shop\n").unwrap();
    // A dbt that logs that it connects, then hangs (a warehouse that never answers).
    let dbt = p.join("hanging-dbt");
    std::fs::write(
        &dbt,
        "#!/bin/sh\necho '{\"info\": {\"msg\": \"Concurrency: 1 threads (target=dev)\"}}'\nexec sleep 600\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dbt, std::fs::Permissions::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = datachonk(
        p,
        &dbt,
        &["generate", "--from-warehouse", "raw", "--dbt-timeout", "1s"],
    );
    assert_eq!(code, 4, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("dbt did not answer within 1s")
            && stderr.contains("Concurrency: 1 threads"),
        "{stderr}"
    );
    assert!(stderr.contains("--dbt-timeout"), "{stderr}");
    // Stopped, not waited out (the hanging dbt would take ten minutes).
    assert!(started.elapsed() < std::time::Duration::from_secs(120));
    assert!(!p.join("models").exists());

    // A duration that is not one is a usage error naming the flag.
    let (code, _, stderr) = datachonk(
        p,
        &dbt,
        &[
            "generate",
            "--from-warehouse",
            "raw",
            "--dbt-timeout",
            "soon",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--dbt-timeout soon"), "{stderr}");
}
