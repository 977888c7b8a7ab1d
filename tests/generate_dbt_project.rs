//! Proof with real dbt-core + dbt-duckdb that `generate` plans against what a real project
//! already declares (issue 10): one project holds every declaration style at once — all
//! sources in one `models/_sources.yml` (comments, Jinja values, an anchor), a per-source file
//! of the project's own naming in `models/staging/<source>/`, a source in an unusual folder
//! with `identifier:` + `quoting: {identifier: true}` for a raw name with a space, a source
//! with `database`/`schema` overrides, a hand-written `stg_` model, and seeds read back
//! through a declared source. Then: `dbt docs generate` → `datachonk generate` →
//! `dbt parse --warn-error --no-partial-parse` and `dbt build` green → after another
//! `dbt docs generate`, `generate --check` is clean and a second `generate` writes nothing →
//! a table added to the warehouse (a new seed) → `generate` adds exactly that table to the
//! existing declaration, byte for byte around it, and its model; `dbt build` green again.
//! An invalid YAML file stops `generate` (exit 2) before anything is written.
//!
//! dbt comes from `bash scripts/setup-test-deps` (or `$DATACHONK_TEST_DBT`); without it this
//! test FAILS. One test function: dbt starts in ~2.5 s each time.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::cargo::cargo_bin_cmd;

mod real_dbt;
use real_dbt::{dbt_command, dbt_path, run_ok as run};

/// dbt in the test project; SHOP_SCHEMA (read by its Jinja `env_var` defaults) never leaks in
/// from the caller's environment.
fn dbt(dbt: &Path, project: &Path, args: &[&str]) -> String {
    let mut cmd = dbt_command(dbt, project, args);
    cmd.env_remove("SHOP_SCHEMA");
    run(&mut cmd, &format!("dbt {}", args.join(" ")))
}

/// `datachonk generate --from-catalog target/catalog.json ARGS`: (exit code, stderr).
fn generate(p: &Path, extra: &[&str]) -> (i32, String) {
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .env("NO_COLOR", "1")
        .args(["generate", "--from-catalog", "target/catalog.json"])
        .args(extra)
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

fn read(p: &Path, rel: &str) -> String {
    std::fs::read_to_string(p.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn write(p: &Path, rel: &str, text: &str) {
    let path = p.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every file under `dir` except dbt's, git's and datachonk's caches (`.datachonk/`), with
/// its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if [
                ".git",
                ".datachonk",
                "target",
                "logs",
                "warehouse.duckdb",
                "warehouse.duckdb.wal",
            ]
            .contains(&name.as_str())
            {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

const WAREHOUSE_SQL: &str = r#"
create schema raw_shop;
create table raw_shop.orders (id integer, customer_id integer, total double);
insert into raw_shop.orders values (1, 10, 12.5), (2, 11, 3.0);
create table raw_shop.customers (id integer, name varchar, "Email Address" varchar);
insert into raw_shop.customers values (10, 'Ada', 'ada@example.com'), (11, 'Grace', 'grace@example.com');
create schema raw_billing;
create table raw_billing.invoices (invoice_id integer, amount double);
insert into raw_billing.invoices values (1, 9.5);
create table raw_billing.payments (payment_id integer, invoice_id integer);
insert into raw_billing.payments values (1, 1);
create schema legacy_raw;
create table legacy_raw."Customer List" ("Cust ID" integer, "Full Name" varchar);
insert into legacy_raw."Customer List" values (1, 'Ada Lovelace');
create schema raw_crm;
create table raw_crm.accounts (account_id integer, name varchar);
insert into raw_crm.accounts values (1, 'Acme');
"#;

/// All sources in one file: comments, Jinja values (never rendered by datachonk), an anchor.
const SOURCES: &str = "version: 2

# Raw data, loaded nightly.
x-freshness: &nightly
  warn_after: {count: 36, period: hour}

sources:
  - name: shop  # the web shop
    schema: \"{{ env_var('SHOP_SCHEMA', 'raw_shop') }}\"
    config:
      freshness: *nightly
      loaded_at_field: \"{{ 'current_timestamp' }}\"
    tables:
      - name: orders
        description: \"{{ 'Orders, ' ~ 'one row each' }}\"

      - name: customers
        columns:
          - name: id
            data_tests:
              - unique
              - not_null
    # crm lives in the same warehouse file, another schema

  - name: crm
    database: warehouse
    schema: raw_crm
    tables:
      - name: accounts

  # Seeds, read back as a source (as the quickstart does).
  - name: ref_data
    schema: main_raw_seeds
    tables:
      - name: countries
";

#[test]
fn generate_plans_against_a_real_projects_declarations_and_dbt_builds_it() {
    let dbt_bin = dbt_path();
    let python = dbt_bin.with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    write(
        p,
        "dbt_project.yml",
        "name: chonk\nversion: '1.0.0'\nconfig-version: 2\nprofile: chonk\nmodel-paths: [models]\nseed-paths: [seeds]\nseeds:\n  chonk:\n    +schema: raw_seeds\nmodels:\n  chonk:\n    +materialized: view\n",
    );
    write(
        p,
        "profiles.yml",
        "chonk:\n  target: ci\n  outputs:\n    ci:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 1\n",
    );
    write(p, "datachonk.yaml", "generate:\n  dialect: duckdb\n");
    let mut py = Process::new(&python);
    py.current_dir(p).args([
        "-c",
        &format!("import duckdb; c = duckdb.connect('warehouse.duckdb'); c.execute({WAREHOUSE_SQL:?}); c.close()"),
    ]);
    run(&mut py, "create the DuckDB warehouse");
    write(
        p,
        "seeds/countries.csv",
        "code,name\nfr,France\nde,Germany\n",
    );
    write(p, "models/_sources.yml", SOURCES);
    // A per-source file named as the project likes, beside where datachonk writes.
    let billing = "sources:\n  - name: billing\n    schema: raw_billing\n    tables:\n      - name: invoices\n      - name: payments\n";
    write(p, "models/staging/billing/billing_tables.yml", billing);
    // An unusual folder; a raw name with a space under another name.
    let legacy = "sources:\n- name: legacy\n  schema: legacy_raw\n  tables:\n  - name: customers\n    identifier: Customer List\n    quoting:\n      identifier: true\n";
    write(p, "models/zz/odd/place/legacy.yaml", legacy);
    // A hand-written staging model for one table.
    let mine = "select invoice_id, amount * 100 as amount_cents from {{ source('billing', 'invoices') }}\n";
    write(p, "models/marts/stg_billing__invoices.sql", mine);

    dbt(&dbt_bin, p, &["seed"]);
    dbt(&dbt_bin, p, &["docs", "generate"]);

    // An invalid YAML file: exit 2, nothing written.
    write(p, "models/broken.yml", "models:\n  - name: [x\n");
    let before = snapshot(p);
    let (code, out) = generate(p, &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("broken.yml:2:"), "{out}");
    assert_eq!(
        snapshot(p),
        before,
        "an invalid YAML file must stop the run"
    );
    std::fs::remove_file(p.join("models/broken.yml")).unwrap();

    let (code, out) = generate(p, &[]);
    assert_eq!(code, 0, "{out}");
    // billing.invoices is read by the person's own model: already staged, no second model
    // (issue 20 §2; before, it was planned and reported as `exists (not generated)`).
    assert!(
        out.contains("1 selected table(s) are already read by models of the project"),
        "{out}"
    );
    assert!(
        !p.join("models/staging/billing/stg_billing__invoices.sql")
            .exists(),
        "{out}"
    );
    // Declared sources are never declared again.
    for s in ["shop", "billing", "legacy", "crm", "ref_data"] {
        assert!(
            !p.join(format!("models/staging/{s}/_{s}__sources.yml"))
                .exists(),
            "{s} declared twice:\n{out}"
        );
    }
    // The person's files: only the missing columns appended, every other byte kept.
    let added = "          - name: name\n            data_type: VARCHAR\n          - name: Email Address\n            data_type: VARCHAR\n            quote: true\n";
    let at = SOURCES.find("    # crm lives").unwrap();
    let expected = format!("{}{added}{}", &SOURCES[..at], &SOURCES[at..]);
    assert_eq!(read(p, "models/_sources.yml"), expected);
    assert_eq!(
        read(p, "models/staging/billing/billing_tables.yml"),
        billing
    );
    assert_eq!(read(p, "models/zz/odd/place/legacy.yaml"), legacy);
    assert_eq!(read(p, "models/marts/stg_billing__invoices.sql"), mine);
    for (model, call) in [
        ("shop/stg_shop__orders", "source('shop', 'orders')"),
        (
            "billing/stg_billing__payments",
            "source('billing', 'payments')",
        ),
        (
            "legacy/stg_legacy__customers",
            "source('legacy', 'customers')",
        ),
        ("crm/stg_crm__accounts", "source('crm', 'accounts')"),
        (
            "ref_data/stg_ref_data__countries",
            "source('ref_data', 'countries')",
        ),
    ] {
        let sql = read(p, &format!("models/staging/{model}.sql"));
        assert!(sql.contains(call), "{model}:\n{sql}");
    }

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
    assert_all_green(p, &build, 7);

    // The round trip: catalog.json now lists the staging models as nodes; they are not inputs.
    dbt(&dbt_bin, p, &["docs", "generate"]);
    let (code, out) = generate(p, &["--check"]);
    assert_eq!(code, 0, "fresh right after generate:\n{out}");
    let before = snapshot(p);
    let (code, out) = generate(p, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("wrote 0 file(s)"), "{out}");
    assert!(!p.join("models/staging/main").exists(), "{out}");
    assert_same(&snapshot(p), &before);

    // A table added to the warehouse: a new seed, in the declared source's schema.
    write(p, "seeds/regions.csv", "code,name\neu,Europe\n");
    dbt(&dbt_bin, p, &["seed"]);
    dbt(&dbt_bin, p, &["docs", "generate"]);
    let (code, out) = generate(p, &["--check"]);
    assert_eq!(code, 1, "stale until the new table is added:\n{out}");
    let (code, out) = generate(p, &[]);
    assert_eq!(code, 0, "{out}");
    let with_regions = read(p, "models/_sources.yml");
    // Like its neighbour `countries`, the new entry lists no columns.
    let new_table = "      - name: regions\n";
    assert_eq!(with_regions, format!("{expected}{new_table}"));
    assert!(
        out.contains("new            models/staging/ref_data/stg_ref_data__regions.sql"),
        "{out}"
    );
    let written: Vec<&str> = out
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("new") || l.starts_with("changed") || l.starts_with("add to"))
        .collect();
    assert_eq!(
        written.len(),
        3,
        "exactly the table, its model and its entry:\n{out}"
    );
    dbt(
        &dbt_bin,
        p,
        &["parse", "--warn-error", "--no-partial-parse"],
    );
    let build = dbt(&dbt_bin, p, &["build"]);
    assert_all_green(p, &build, 8);
}

/// Every result of the last `dbt build` succeeded, and `models` models ran (the hand-written
/// one included).
fn assert_all_green(p: &Path, build: &str, models: usize) {
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.join("target/run_results.json")).unwrap()).unwrap();
    let nodes = results["results"].as_array().unwrap();
    let ran = nodes
        .iter()
        .filter(|r| {
            r["unique_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("model."))
        })
        .count();
    assert_eq!(ran, models, "{build}");
    for r in nodes {
        assert!(
            matches!(r["status"].as_str(), Some("success" | "pass")),
            "{} ended {}:\n{build}",
            r["unique_id"],
            r["status"]
        );
    }
}

/// Two snapshots are equal; otherwise the paths that differ are named.
fn assert_same(now: &[(String, Vec<u8>)], before: &[(String, Vec<u8>)]) {
    let differ: Vec<&str> = now
        .iter()
        .filter(|f| !before.contains(f))
        .chain(before.iter().filter(|f| !now.contains(f)))
        .map(|(p, _)| p.as_str())
        .collect();
    assert!(differ.is_empty(), "files written or changed: {differ:?}");
}
