//! `datachonk new` refuses a name the files or the warehouse cannot hold before it edits the
//! spec (issue 21 §7): a 250-character entity name used to be written into the spec, fail
//! to render ("file name too long"), and break every later `generate`.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use datachonk::config;

const CATALOG: &str = r#"{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json", "dbt_version": "1.11.0", "generated_at": "2026-01-01T00:00:00Z", "invocation_id": null, "env": {}},
 "nodes": {
  "model.shop.stg_shop__customers": {"metadata": {"type": "VIEW", "schema": "main", "name": "stg_shop__customers", "database": "ci", "comment": null, "owner": null}, "columns": {"customer_id": {"type": "INTEGER", "index": 1, "name": "customer_id", "comment": null}, "country": {"type": "VARCHAR", "index": 2, "name": "country", "comment": null}, "updated_at": {"type": "TIMESTAMP", "index": 3, "name": "updated_at", "comment": null}}, "stats": {}, "unique_id": "model.shop.stg_shop__customers"},
  "model.shop.stg_shop__orders": {"metadata": {"type": "VIEW", "schema": "main", "name": "stg_shop__orders", "database": "ci", "comment": null, "owner": null}, "columns": {"order_id": {"type": "INTEGER", "index": 1, "name": "order_id", "comment": null}, "customer_id": {"type": "INTEGER", "index": 2, "name": "customer_id", "comment": null}, "amount": {"type": "DOUBLE", "index": 3, "name": "amount", "comment": null}, "ordered_at": {"type": "TIMESTAMP", "index": 4, "name": "ordered_at", "comment": null}}, "stats": {}, "unique_id": "model.shop.stg_shop__orders"}
 }, "sources": {}, "errors": null}"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    write(
        p,
        "dbt_project.yml",
        "name: shop\nconfig-version: 2\nprofile: shop\n",
    );
    write(p, "target/catalog.json", CATALOG);
    dir
}

fn write(p: &Path, rel: &str, text: &str) {
    let path = p.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[allow(dead_code)]
fn read(p: &Path, rel: &str) -> String {
    std::fs::read_to_string(p.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `datachonk --no-input ARGS` (stdin is not a terminal either): (exit code, output).
fn new(p: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(p)
        .env("NO_COLOR", "1")
        .arg("--no-input")
        .arg("new");
    for (name, _) in config::ENV_VARS {
        cmd.env_remove(name);
    }
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_name_too_long_or_reserved_is_refused_before_the_spec_is_edited() {
    let dir = project();
    let p = dir.path();
    write(p, "datachonk/model.yml", "# mine\nentities: {}\n");
    let before = read(p, "datachonk/model.yml");
    let long = "c".repeat(250);
    for (name, why) in [
        (long.as_str(), "file systems hold at most 255"),
        (&"c".repeat(70), "postgres holds at most 63"),
        ("select", "reserved word"),
    ] {
        let (code, out) = new(
            p,
            &[
                "entity",
                name,
                "--from",
                "stg_shop__customers",
                "--key",
                "customer_id",
            ],
        );
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(why), "{why}: {out}");
        assert_eq!(
            read(p, "datachonk/model.yml"),
            before,
            "the spec is untouched"
        );
    }
    // And generate still works afterwards.
    let mut cmd = cargo_bin_cmd!("datachonk");
    for (name, _) in config::ENV_VARS {
        cmd.env_remove(name);
    }
    let out = cmd.current_dir(p).args(["generate"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
