//! `datachonk generate` on a project that already declares things: sources in a file of its
//! own, a hand-written staging model, a properties entry, the project's own models in
//! catalog.json, an invalid YAML file. Nothing is ever declared twice; a person's file only
//! ever gains entries, every other byte kept.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use datachonk::config;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/generate")
        .join(name)
}

/// A dbt project with `files` (a `dbt_project.yml` among them replaces the smallest one).
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join("dbt_project.yml"), "name: shop\n").unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn datachonk(dir: &Path) -> Command {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd
}

fn generate_from(dir: &Path, catalog: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    let mut args = vec!["generate", "--from-catalog", catalog.to_str().unwrap()];
    args.extend_from_slice(extra);
    datachonk(dir).args(&args).assert()
}

fn generate(dir: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    generate_from(dir, &fixture("catalog.json"), extra)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).unwrap()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stderr.clone()).unwrap()
}

const SHOP: &str = "models/staging/shop";

/// The person's file: comments, Jinja values, an anchor, blank lines between tables.
const SOURCES: &str = "version: 2

# The shop's raw tables (loaded by Fivetran).
x-defaults: &defaults
  loaded_at_field: _loaded_at

sources:
  - name: shop
    schema: \"{{ env_var('SHOP_SCHEMA', 'raw') }}\"  # opaque: never rendered
    config: *defaults
    tables:
      - name: orders
        description: \"{{ doc('orders') }}\"

      - name: customers
        columns:
          - name: customer_id
            data_tests: [unique, not_null]
    # more tables come with the next load
models:
  - name: orders_summary
    description: by day
";

#[test]
fn a_declared_source_gains_only_the_missing_table_and_columns_every_other_byte_kept() {
    let dir = project(&[("models/_sources.yml", SOURCES)]);
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("1 of your file(s) added to"), "{out}");
    // Never declared twice: no datachonk sources file for shop.
    assert!(!dir
        .path()
        .join(format!("{SHOP}/_shop__sources.yml"))
        .exists());
    let after = read(dir.path(), "models/_sources.yml");
    let added = "          - name: Name
            data_type: VARCHAR
            quote: true

      - name: order_items
        identifier: Order Items
        quoting:
          identifier: true
        columns:
          - name: order_item_id
            data_type: INTEGER
          - name: Order ID
            data_type: INTEGER
            quote: true
          - name: select
            data_type: VARCHAR
            quote: true
";
    let at = SOURCES.find("    # more tables").unwrap();
    assert_eq!(
        after,
        format!("{}{added}{}", &SOURCES[..at], &SOURCES[at..])
    );
    // Staging models select the project's names.
    for (model, table) in [
        ("orders", "'orders'"),
        ("customers", "'customers'"),
        ("order_items", "'order_items'"),
    ] {
        let sql = read(dir.path(), &format!("{SHOP}/stg_shop__{model}.sql"));
        assert!(
            sql.contains(&format!("{{{{ source('shop', {table}) }}}}")),
            "{sql}"
        );
    }
    // A second run writes nothing (not even the state), and --check calls it fresh.
    let state = read(dir.path(), "datachonk.state.json");
    let out = stderr(&generate(dir.path(), &[]).success());
    assert_eq!(read(dir.path(), "datachonk.state.json"), state);
    assert!(out.contains("wrote 0 file(s)"), "{out}");
    assert_eq!(read(dir.path(), "models/_sources.yml"), after);
    generate(dir.path(), &["--check"]).success();
}

#[test]
fn edits_of_a_persons_file_show_in_dry_run_diff_and_json() {
    let dir = project(&[("models/_sources.yml", SOURCES)]);
    let out = stdout(&generate(dir.path(), &["--dry-run"]).success());
    assert!(out.contains("add to         models/_sources.yml"), "{out}");
    let diff = stdout(&generate(dir.path(), &["--diff"]).success());
    assert!(diff.contains("--- a/models/_sources.yml"), "{diff}");
    assert!(diff.contains("+      - name: order_items"), "{diff}");
    let json = stdout(&generate(dir.path(), &["--json", "--dry-run"]).success());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edit = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "models/_sources.yml")
        .unwrap();
    assert_eq!(edit["kind"], "project-yaml");
    assert_eq!(edit["action"], "write");
    assert_eq!(v["summary"]["project_edits"], 1);
    assert_eq!(read(dir.path(), "models/_sources.yml"), SOURCES);
    // --check: stale until generate adds the table.
    generate(dir.path(), &["--check"]).code(1);
}

#[test]
fn a_source_declared_in_any_folder_under_a_custom_model_path_is_found() {
    let dbt_project = "name: p\nprofile: p\nmodel-paths: [\"transform\"]\n";
    let declared = "sources:\n- name: shop\n  schema: raw\n  tables:\n  - name: orders\n  - name: Order Items\n    identifier: Order Items\n    quoting:\n      identifier: true\n  - name: customers\n";
    let dir = project(&[
        ("dbt_project.yml", dbt_project),
        ("transform/odd/place/deep/raw.yaml", declared),
        // Not read: outside model-paths, dbt's own folders.
        (
            "models/_dup.yml",
            "sources:\n  - name: other\n    tables: [{name: orders}]\n",
        ),
        ("target/x.yml", "sources: [oops"),
        ("dbt_packages/p/models/x.yml", "sources: [oops"),
        (
            "datachonk.yaml",
            "generate:\n  output_dir: transform/staging\n",
        ),
    ]);
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(!out.contains("added to"), "{out}");
    assert_eq!(
        read(dir.path(), "transform/odd/place/deep/raw.yaml"),
        declared
    );
    let sql = read(
        dir.path(),
        "transform/staging/shop/stg_shop__order_items.sql",
    );
    assert!(sql.contains("source('shop', 'Order Items')"), "{sql}");
    assert!(!dir
        .path()
        .join("transform/staging/shop/_shop__sources.yml")
        .exists());
}

#[test]
fn a_model_the_project_already_has_is_not_generated_and_strict_says_so() {
    let dir = project(&[
        ("models/marts/stg_shop__orders.sql", "select 1 as id\n"),
        (
            "models/props.yml",
            "models:\n  - name: stg_shop__customers\n    description: mine\n",
        ),
    ]);
    let a = generate(dir.path(), &[]).success();
    let out = stderr(&a);
    assert!(out.contains("1 exist (not generated)"), "{out}");
    assert!(
        out.contains("exists (not generated) models/staging/shop/stg_shop__orders.sql (defined in models/marts/stg_shop__orders.sql)"),
        "{out}"
    );
    assert!(!dir
        .path()
        .join(format!("{SHOP}/stg_shop__orders.sql"))
        .exists());
    // The properties entry is the person's: the model is generated, its entry is not.
    assert!(dir
        .path()
        .join(format!("{SHOP}/stg_shop__customers.sql"))
        .exists());
    let models = read(dir.path(), &format!("{SHOP}/_shop__models.yml"));
    assert!(!models.contains("stg_shop__customers"), "{models}");
    assert!(!models.contains("stg_shop__orders"), "{models}");
    assert!(models.contains("stg_shop__order_items"), "{models}");
    let err = stderr(&generate(dir.path(), &["--strict"]).code(1));
    assert!(err.contains("stg_shop__orders"), "{err}");
}

#[test]
fn an_invalid_yaml_file_stops_the_run_before_anything_is_written() {
    let dir = project(&[("models/staging/bad.yml", "sources:\n  - name: [shop\n")]);
    let err = stderr(&generate(dir.path(), &[]).code(2));
    assert!(err.contains("models/staging/bad.yml:"), "{err}");
    assert!(err.contains("not valid YAML"), "{err}");
    assert!(!dir.path().join(SHOP).exists());
    assert!(!dir.path().join("datachonk.state.json").exists());
}

#[test]
fn the_projects_own_models_in_a_catalog_are_never_staging_inputs() {
    // What `dbt docs generate` reports after a build: the generated models as nodes.
    let mut catalog: serde_json::Value =
        serde_json::from_str(&read(&fixture(""), "catalog.json")).unwrap();
    let nodes = catalog["nodes"].as_object_mut().unwrap();
    for (kind, name) in [
        ("model", "stg_shop__orders"),
        ("snapshot", "orders_snapshot"),
        ("test", "unique_x"),
    ] {
        nodes.insert(
            format!("{kind}.proj.{name}"),
            serde_json::json!({
                "metadata": {"type": "VIEW", "schema": "main", "name": name, "database": "wh", "comment": null},
                "columns": {"id": {"type": "INTEGER", "index": 1, "name": "id", "comment": null}},
                "stats": {}, "unique_id": format!("{kind}.proj.{name}")
            }),
        );
    }
    let dir = project(&[]);
    let path = dir.path().join("catalog.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    generate_from(dir.path(), &path, &[]).success();
    assert!(!dir.path().join("models/staging/main").exists());
    generate_from(dir.path(), &path, &["--check"]).success();
    // Selected by name, one is an input.
    generate_from(dir.path(), &path, &["main.stg_shop__orders", "--dry-run"])
        .success()
        .stdout(predicates::str::contains("stg_main__stg_shop_orders.sql"));
}

#[test]
fn from_sources_adds_to_the_projects_declaration_and_a_declaring_input_is_not_declared_again() {
    let input = "sources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n        columns:\n          - name: id\n            data_type: integer\n            data_tests: [unique, not_null]\n      - name: customers\n        columns:\n          - name: id\n            data_type: integer\n";
    let declared = "sources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n";
    let dir = project(&[
        ("vendor/shop.yml", input),
        ("models/_sources.yml", declared),
    ]);
    datachonk(dir.path())
        .args(["generate", "--from-sources", "vendor/shop.yml"])
        .assert()
        .success();
    // Like its neighbour, the new entry lists no columns.
    assert_eq!(
        read(dir.path(), "models/_sources.yml"),
        format!("{declared}      - name: customers\n")
    );
    assert!(!dir
        .path()
        .join(format!("{SHOP}/_shop__sources.yml"))
        .exists());
    datachonk(dir.path())
        .args(["generate", "--from-sources", "vendor/shop.yml", "--check"])
        .assert()
        .success();

    // The input is itself the project's declaration: staging models only.
    let dir = project(&[("models/raw_sources.yml", input)]);
    datachonk(dir.path())
        .args(["generate", "--from-sources", "models/raw_sources.yml"])
        .assert()
        .success();
    assert_eq!(read(dir.path(), "models/raw_sources.yml"), input);
    assert!(!dir
        .path()
        .join(format!("{SHOP}/_shop__sources.yml"))
        .exists());
    assert!(dir
        .path()
        .join(format!("{SHOP}/stg_shop__customers.sql"))
        .exists());
}

#[test]
fn the_no_op_fast_path_sees_a_change_to_the_projects_declarations() {
    let dir = project(&[("models/_sources.yml", SOURCES)]);
    generate(dir.path(), &[]).success();
    let added = read(dir.path(), "models/_sources.yml");
    // Nothing changed: nothing to do (the whole-run fast path), twice.
    for _ in 0..2 {
        let out = stderr(&generate(dir.path(), &[]).success());
        assert!(out.contains("wrote 0 file(s)"), "{out}");
    }
    // The person takes the additions out again: the next run puts them back.
    std::fs::write(dir.path().join("models/_sources.yml"), SOURCES).unwrap();
    generate(dir.path(), &["--check"]).code(1);
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("1 of your file(s) added to"), "{out}");
    assert_eq!(read(dir.path(), "models/_sources.yml"), added);
    // A generated model deleted: written again.
    std::fs::remove_file(dir.path().join(format!("{SHOP}/stg_shop__orders.sql"))).unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(out.contains("wrote 1 file(s)"), "{out}");
}

#[test]
fn a_model_the_project_takes_over_later_keeps_one_entry_and_is_warned_about() {
    let dir = project(&[]);
    generate(dir.path(), &[]).success();
    // The person describes a generated model in a file of their own: datachonk drops its entry.
    std::fs::write(
        dir.path().join("models/props.yml"),
        "models:\n  - name: stg_shop__customers\n    description: mine\n",
    )
    .unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(
        out.contains("dropped models the project describes in its own files: stg_shop__customers"),
        "{out}"
    );
    let models = read(dir.path(), &format!("{SHOP}/_shop__models.yml"));
    assert!(!models.contains("stg_shop__customers"), "{models}");
    // And writes a model of that name of their own: the earlier generated one is named.
    std::fs::create_dir_all(dir.path().join("models/marts")).unwrap();
    std::fs::write(
        dir.path().join("models/marts/stg_shop__orders.sql"),
        "select 1 as id\n",
    )
    .unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(
        out.contains("models/staging/shop/stg_shop__orders.sql (written by an earlier generate) and models/marts/stg_shop__orders.sql define the same model"),
        "{out}"
    );
}

#[test]
fn a_source_the_project_takes_over_from_an_earlier_generate_is_warned_about() {
    let dir = project(&[]);
    generate(dir.path(), &[]).success();
    std::fs::write(dir.path().join("models/_sources.yml"), SOURCES).unwrap();
    let out = stderr(&generate(dir.path(), &[]).success());
    assert!(
        out.contains("models/staging/shop/_shop__sources.yml (written by an earlier generate) and models/_sources.yml both declare source shop"),
        "{out}"
    );
    // The person's file got the missing tables all the same; the state says push commits it.
    assert!(read(dir.path(), "models/_sources.yml").contains("- name: order_items"));
    let state = read(dir.path(), "datachonk.state.json");
    assert!(state.contains("\"project_edits\""), "{state}");
}
