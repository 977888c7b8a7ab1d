//! `datachonk new entity|fact|metric NAME …` (issue 15 §1): the entry written into the spec in
//! place (comments and order kept), checked with the whole spec first, then rendered as
//! `generate` renders it; without a terminal, missing flags are named and nothing is written.

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
fn new_writes_the_entry_in_place_then_renders_it() {
    let dir = project();
    let p = dir.path();
    // A person's spec file, with comments, that has no entities section yet.
    write(
        p,
        "datachonk/model.yml",
        "# Shop marts — owned by the data team.\nfacts: {}\n",
    );
    let (code, out) = new(
        p,
        &[
            "entity",
            "customers",
            "--from",
            "stg_shop__customers",
            "--key",
            "customer_id",
            "--history",
            "scd2",
            "--updated-at",
            "updated_at",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("added customers to datachonk/model.yml"),
        "{out}"
    );
    assert!(
        out.contains("new            models/marts/dim_customers.sql"),
        "{out}"
    );
    assert!(p.join("snapshots/customers_snapshot.yml").is_file());

    // The fact: its entities proposed from the key columns its model has.
    let (code, out) = new(
        p,
        &[
            "fact",
            "orders",
            "--from",
            "stg_shop__orders",
            "--grain",
            "order_id",
            "--measures",
            "amount",
            "--incremental",
            "ordered_at",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("references entity customers (the fact has its key customer_id; relationships: confidence 0.80, "),
        "{out}"
    );
    assert!(read(p, "models/marts/fct_orders.sql").contains("dim_customers.customer_key"));

    let (code, out) = new(
        p,
        &[
            "metric",
            "revenue",
            "--fact",
            "orders",
            "--measure",
            "amount",
            "--agg",
            "sum",
            "--time",
            "ordered_at",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = new(
        p,
        &[
            "metric",
            "aov",
            "--type",
            "ratio",
            "--numerator",
            "revenue",
            "--denominator",
            "orders_count",
        ],
    );
    assert_eq!(code, 2, "a ratio on a metric that does not exist: {out}");
    assert!(
        out.contains("metric `aov` uses unknown metric `orders_count`"),
        "{out}"
    );
    let (code, out) = new(
        p,
        &[
            "metric",
            "order_count",
            "--fact",
            "orders",
            "--agg",
            "count",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        read(p, "datachonk/model.yml"),
        "# Shop marts — owned by the data team.
facts:
  orders: { from: stg_shop__orders, grain: order_id, entities: [customers], measures: [amount], incremental: { updated_at: ordered_at } }

entities:
  customers: { from: stg_shop__customers, key: customer_id, history: scd2, updated_at: updated_at }

metrics:
  revenue: { fact: orders, measure: amount, agg: sum, time: ordered_at }
  order_count: { fact: orders, agg: count }
"
    );
    assert!(read(p, "models/marts/_metrics.yml").contains("  - name: order_count\n"));
    // What `new` rendered is what `generate` renders: a rerun changes nothing.
    let out = cargo_bin_cmd!("datachonk")
        .current_dir(p)
        .arg("generate")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.contains("0 new, 0 changed")
            && text.contains("wrote 0 file(s)"),
        "{text}"
    );
}

#[test]
fn new_refuses_what_would_not_hold_and_writes_nothing() {
    let dir = project();
    let p = dir.path();
    write(
        p,
        "datachonk/model.yml",
        "entities:\n  customers: { from: stg_shop__customers, key: customer_id }\n",
    );
    let before = read(p, "datachonk/model.yml");

    let (code, out) = new(p, &["fact", "orders"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("new fact: missing --from MODEL, --grain COLUMNS"),
        "{out}"
    );

    let (code, out) = new(
        p,
        &[
            "fact",
            "orders",
            "--from",
            "stg_shop__order",
            "--grain",
            "order_id",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("unknown model `stg_shop__order` (write `from: stg_shop__orders`)"),
        "{out}"
    );

    let (code, out) = new(
        p,
        &[
            "entity",
            "customers",
            "--from",
            "stg_shop__customers",
            "--key",
            "customer_id",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("entity `customers` is already declared at datachonk/model.yml:2"),
        "{out}"
    );

    let (code, out) = new(
        p,
        &[
            "entity",
            "accounts",
            "--from",
            "stg_shop__customers",
            "--key",
            "customer_id",
            "--grain",
            "x",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--grain do(es) not apply"), "{out}");

    let (code, out) = new(
        p,
        &[
            "fact",
            "orders",
            "--from",
            "stg_shop__orders",
            "--grain",
            "order_id",
            "--dry-run",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("orders: { from: stg_shop__orders, grain: order_id, entities: [customers] }"),
        "{out}"
    );
    assert_eq!(read(p, "datachonk/model.yml"), before);
    assert!(!p.join("models").exists());
}
