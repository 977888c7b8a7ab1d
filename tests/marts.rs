//! Entities, facts and metrics from the spec in `datachonk/*.yml` (issue 15), as a user meets
//! them without dbt: what is rendered, reruns that change nothing, hand edits kept, `--check`,
//! `--dry-run`, and a bad spec refused with file:line and what to write instead.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use assert_cmd::Command;
use datachonk::config;

/// A catalog.json (as `dbt docs generate` writes it) with these models and columns.
fn catalog(models: &[(&str, &[&str])]) -> String {
    let nodes: Vec<String> = models
        .iter()
        .map(|(name, cols)| {
            let cols: Vec<String> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    format!(r#""{c}": {{"type": "VARCHAR", "index": {}, "name": "{c}", "comment": null}}"#, i + 1)
                })
                .collect();
            format!(
                r#""model.shop.{name}": {{"metadata": {{"type": "VIEW", "schema": "main", "name": "{name}", "database": "ci", "comment": null, "owner": null}}, "columns": {{{}}}, "stats": {{}}, "unique_id": "model.shop.{name}"}}"#,
                cols.join(", ")
            )
        })
        .collect();
    format!(
        r#"{{"metadata": {{"dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json", "dbt_version": "1.11.0", "generated_at": "2026-01-01T00:00:00Z", "invocation_id": null, "env": {{}}}}, "nodes": {{{}}}, "sources": {{}}, "errors": null}}"#,
        nodes.join(", ")
    )
}

const MODELS: &[(&str, &[&str])] = &[
    (
        "stg_shop__customers",
        &["customer_id", "customer_name", "email", "updated_at"],
    ),
    (
        "stg_shop__products",
        &["product_id", "product_name", "price"],
    ),
    (
        "stg_shop__orders",
        &["order_id", "customer_id", "status", "amount", "ordered_at"],
    ),
    (
        "stg_shop__order_lines",
        &[
            "order_id",
            "line_number",
            "product_id",
            "quantity",
            "line_amount",
        ],
    ),
];

const SPEC: &str = "\
# The shop's marts.
entities:
  customers: { from: stg_shop__customers, key: customer_id, history: scd2, updated_at: updated_at }
  products: { from: stg_shop__products, key: product_id, attributes: [product_name, price] }

facts:
  orders:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    dimensions: [status]
    incremental: { updated_at: ordered_at }
  order_lines:
    from: stg_shop__order_lines
    grain: [order_id, line_number]
    entities: [products]
    measures: [line_amount, quantity]

metrics:
  revenue: { fact: orders, measure: amount, agg: sum, time: ordered_at }
  order_count: { fact: orders, agg: count }
  average_order_value: { type: ratio, numerator: revenue, denominator: order_count }
  revenue_7d: { type: cumulative, fact: orders, measure: amount, agg: sum, window: 7 days }
  revenue_per_order: { type: derived, expr: revenue / order_count, metrics: [revenue, order_count] }
";

/// A dbt project folder with a spec and `target/catalog.json`.
fn project(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir(p.join(".git")).unwrap();
    write(
        p,
        "dbt_project.yml",
        "name: shop\nconfig-version: 2\nprofile: shop\n",
    );
    write(p, "target/catalog.json", &catalog(MODELS));
    write(p, "datachonk/model.yml", spec);
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

fn datachonk(dir: &Path) -> Command {
    let mut cmd = cargo_bin_cmd!("datachonk");
    cmd.current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in config::ENV_VARS {
        cmd.env_remove(name);
    }
    cmd
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = datachonk(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The paths whose bytes differ between two snapshots.
fn differ(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut out: Vec<String> = a
        .iter()
        .filter(|x| !b.contains(x))
        .chain(b.iter().filter(|x| !a.contains(x)))
        .map(|(p, _)| p.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every file under `dir` except `.git` and `.datachonk`, with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.ends_with(".git") || p.ends_with(".datachonk") {
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

#[test]
fn the_spec_renders_dimensions_a_snapshot_facts_semantic_models_metrics_and_a_time_spine() {
    let dir = project(SPEC);
    let p = dir.path();
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    for f in [
        "snapshots/customers_snapshot.yml",
        "models/marts/dim_customers.sql",
        "models/marts/dim_customers.yml",
        "models/marts/dim_products.sql",
        "models/marts/dim_products.yml",
        "models/marts/fct_orders.sql",
        "models/marts/fct_orders.yml",
        "models/marts/fct_order_lines.sql",
        "models/marts/fct_order_lines.yml",
        "models/marts/_metrics.yml",
        "models/marts/metricflow_time_spine.sql",
        "models/marts/metricflow_time_spine.yml",
    ] {
        assert!(
            out.contains(&format!("new            {f}")),
            "{f} not reported:\n{out}"
        );
    }
    // The snapshot in dbt 1.9+'s YAML form.
    assert_eq!(
        read(p, "snapshots/customers_snapshot.yml"),
        "snapshots:\n  - name: customers_snapshot\n    description: Every version of each customer in stg_shop__customers (dbt snapshot, timestamp strategy).\n    relation: \"ref('stg_shop__customers')\"\n    config:\n      unique_key: customer_id\n      strategy: timestamp\n      updated_at: updated_at\n"
    );
    // An scd1 dimension: a surrogate key through dbt's cross-database macros, the attributes.
    let dim = read(p, "models/marts/dim_products.sql");
    assert!(
        dim.contains("select * from {{ ref('stg_shop__products') }}"),
        "{dim}"
    );
    assert!(dim.contains("{{ dbt.hash(\"coalesce(\" ~ dbt.cast('product_id', dbt.type_string()) ~ \", '_dc_null_')\") }} as product_key,\n        product_id,\n        product_name,\n        price\n"), "{dim}");
    let props = read(p, "models/marts/dim_products.yml");
    assert!(props.contains("      - name: product_id\n        description: Natural key of the product.\n        data_tests:\n          - unique\n          - not_null:\n              config:\n                where: 'product_key <> ''-1'''\n"), "{props}");
    // The unknown member (issue 22 §1): the fixed key over a row of nulls, text labelled.
    assert!(dim.contains("        '-1' as product_key,\n        product_id,\n        {% if 'product_name' in dc_text_columns %}'Unknown'{% else %}source.product_name{% endif %} as product_name,\n"), "{dim}");
    assert!(dim.contains("    from (select 1 as one) as unknown_row\n    left join source on 1 = 0\n\n)\n\nselect * from final\nunion all\nselect * from unknown_member\n"), "{dim}");
    // The dimension in the semantic layer, joined on its surrogate key.
    assert!(
        props.contains("semantic_models:\n  - name: dim_products\n"),
        "{props}"
    );
    assert!(
        props.contains("      - name: product\n        type: primary\n        expr: product_key\n"),
        "{props}"
    );
    // scd2: from the snapshot, with validity, the key unique among current rows.
    let scd2 = read(p, "models/marts/dim_customers.sql");
    assert!(scd2.contains("{{ ref('customers_snapshot') }}"), "{scd2}");
    for c in [
        "dbt_valid_from as valid_from",
        "dbt_valid_to as valid_to",
        "dbt_valid_to is null as is_current",
    ] {
        assert!(scd2.contains(c), "{c}: {scd2}");
    }
    assert!(read(p, "models/marts/dim_customers.yml").contains(
        "          - unique:\n              config:\n                where: is_current\n"
    ));
    // The incremental fact: config, the is_incremental() filter, the point-in-time join.
    let fct = read(p, "models/marts/fct_orders.sql");
    assert!(fct.starts_with("{{\n    config(\n        materialized='incremental',\n        unique_key='order_id',\n        incremental_strategy='delete+insert',\n        on_schema_change='append_new_columns'\n    )\n}}\n"), "{fct}");
    assert!(fct.contains("    {% if is_incremental() %}\n    where ordered_at >= (select max(ordered_at) from {{ this }})\n        or exists (select 1 from {{ this }} as loaded where loaded.order_id = src.order_id and (loaded.customer_key = '-1'))\n    {% endif %}\n"), "{fct}");
    assert!(
        fct.contains("        coalesce(dim_customers.customer_key, '-1') as customer_key,\n"),
        "{fct}"
    );
    assert!(fct.contains("on source.customer_id = dim_customers.customer_id\n        and (source.ordered_at >= dim_customers.valid_from or dim_customers.version_number = 1)"), "{fct}");
    let fct_yml = read(p, "models/marts/fct_orders.yml");
    assert!(fct_yml.contains("          - relationships:\n              arguments:\n                to: ref('dim_customers')\n                field: customer_key\n"), "{fct_yml}");
    assert!(
        fct_yml.contains("semantic_models:\n  - name: orders\n"),
        "{fct_yml}"
    );
    assert!(
        fct_yml.contains("      - name: amount_sum\n        agg: sum\n        expr: amount\n"),
        "{fct_yml}"
    );
    // A composite grain: both columns carried, no semantic model without a time column.
    let lines = read(p, "models/marts/fct_order_lines.sql");
    assert!(lines.contains("        source.order_id,\n        source.line_number,\n        coalesce(dim_products.product_key, '-1') as product_key,\n"), "{lines}");
    assert!(!read(p, "models/marts/fct_order_lines.yml").contains("semantic_models"));
    let metrics = read(p, "models/marts/_metrics.yml");
    for m in [
        "  - name: revenue\n    label: Revenue\n    type: simple\n    type_params:\n      measure: amount_sum\n",
        "    type: ratio\n    type_params:\n      numerator: revenue\n      denominator: order_count\n",
        "    type: cumulative\n    type_params:\n      measure: amount_sum\n      cumulative_type_params:\n        window: \"7 days\"\n",
        "    type: derived\n    type_params:\n      expr: revenue / order_count\n      metrics:\n        - name: revenue\n        - name: order_count\n",
    ] {
        assert!(metrics.contains(m), "{m}\n---\n{metrics}");
    }
    assert!(read(p, "models/marts/metricflow_time_spine.yml")
        .contains("    time_spine:\n      standard_granularity_column: date_day\n"));
    assert!(read(p, "datachonk.state.json").contains("models/marts/fct_orders.sql"));
}

#[test]
fn reruns_are_byte_identical_and_hand_edits_are_kept_unless_forced() {
    let dir = project(SPEC);
    let p = dir.path();
    assert_eq!(run(p, &["generate"]).0, 0);
    let before = snapshot(p);
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("0 new, 0 changed, 12 unchanged") && out.contains("wrote 0 file(s)"),
        "{out}"
    );
    assert_eq!(differ(&snapshot(p), &before), Vec::<String>::new());
    assert_eq!(run(p, &["generate", "--check"]).0, 0);

    // A hand edit is left alone, reported, and overwritten only with --force.
    let edited = format!("{}-- my note\n", read(p, "models/marts/dim_products.sql"));
    write(p, "models/marts/dim_products.sql", &edited);
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "edited-by-hand models/marts/dim_products.sql (left alone; --force overwrites)"
        ),
        "{out}"
    );
    assert_eq!(read(p, "models/marts/dim_products.sql"), edited);
    let (code, out) = run(p, &["generate", "--force"]);
    assert_eq!(code, 0, "{out}");
    // Only the state file's cache (sizes, times) may differ.
    assert_eq!(differ(&snapshot(p), &before), ["datachonk.state.json"]);

    // A change to the spec: --dry-run and --check say so and write nothing; generate does.
    write(
        p,
        "datachonk/model.yml",
        &SPEC.replace(
            "measures: [amount]",
            "measures: [amount]\n    description: Orders placed.",
        ),
    );
    let (code, out) = run(p, &["generate", "--dry-run"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("changed        models/marts/fct_orders.yml"),
        "{out}"
    );
    let (code, out) = run(p, &["generate", "--check"]);
    assert_eq!(code, 1, "{out}");
    assert!(!read(p, "models/marts/fct_orders.yml").contains("Orders placed."));
    assert_eq!(run(p, &["generate"]).0, 0);
    assert!(read(p, "models/marts/fct_orders.yml").contains("description: Orders placed."));
}

#[test]
fn a_bad_spec_is_refused_with_file_line_and_what_to_write_instead() {
    let dir = project(
        "entities:
  customers: { from: stg_shop__customer, key: customer_id }
  products: { from: stg_shop__products, key: product_idd }
facts:
  orders:
    from: stg_shop__orders
    grain: order_id
    entities: [customer]
    measures: [amount]
metrics:
  revenue: { fact: orders, measure: amont, agg: sum, time: ordered_at }
  a: { type: ratio, numerator: b, denominator: revenue }
  b: { type: derived, expr: a * 2, metrics: [a] }
",
    );
    let p = dir.path();
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 2, "{out}");
    for line in [
        "datachonk/model.yml:2:22: unknown model `stg_shop__customer` (write `from: stg_shop__customers`)",
        "datachonk/model.yml:3:46: unknown column `product_idd` (key) in model `stg_shop__products` (write `product_id`)",
        "datachonk/model.yml:8:16: fact `orders` references unknown entity `customer` (write `customers`)",
        "datachonk/model.yml:11:37: metric `revenue` uses measure `amont`, which fact `orders` does not carry (write `measure: amount`, or add `amont` to facts.orders.measures)",
        "datachonk/model.yml:12:6: metrics refer to each other in a cycle: a → b → a",
    ] {
        assert!(out.contains(line), "missing: {line}\n{out}");
    }
    assert!(!p.join("models").exists(), "nothing is written");

    // Unknown keys, with the key to write.
    write(
        p,
        "datachonk/model.yml",
        "entities:\n  customers:\n    from: stg_shop__customers\n    keys: customer_id\n",
    );
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("datachonk/model.yml:4:5: unknown key `keys`"),
        "{out}"
    );
    assert!(
        out.contains("hint: write `key:` instead of `keys:`"),
        "{out}"
    );

    // The other place a spec could live is refused, pointing here.
    write(p, "datachonk.yaml", "model:\n  entities: {}\n");
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("model: entities, facts and metrics are not read from datachonk.yaml"),
        "{out}"
    );
    assert!(out.contains("datachonk/model.yml"), "{out}");
}

#[test]
fn planned_against_what_the_project_declares() {
    let dir = project(SPEC);
    let p = dir.path();
    // The project has its own time spine, its own dim_products, and a metric named revenue.
    write(p, "models/util/time_spine.yml", "models:\n  - name: all_days\n    time_spine:\n      standard_granularity_column: date_day\n");
    write(p, "models/util/all_days.sql", "select 1\n");
    write(
        p,
        "models/marts/dim_products.sql",
        "select 1 as product_key\n",
    );
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !p.join("models/marts/metricflow_time_spine.sql").exists(),
        "{out}"
    );
    assert_eq!(
        read(p, "models/marts/dim_products.sql"),
        "select 1 as product_key\n"
    );
    assert!(!p.join("models/marts/dim_products.yml").exists());
    assert!(out.contains("models/marts/dim_products.sql"), "{out}");

    write(p, "models/util/metrics.yml", "metrics:\n  - name: revenue\n    label: Revenue\n    type: simple\n    type_params:\n      measure: x\n");
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "metric `revenue` is already declared in models/util/metrics.yml: dbt refuses two"
        ),
        "{out}"
    );
}

#[test]
fn layout_dialect_quoting_and_template_overrides() {
    let spec = format!(
        "layout: {{ folder: models/core, dim_prefix: d_, fct_prefix: f_ }}\n{}",
        "entities:\n  orders: { from: stg_shop__orders, key: order_id, attributes: [status] }\n"
    )
    .replace("status", "order");
    let dir = project(&spec);
    let p = dir.path();
    write(
        p,
        "target/catalog.json",
        &catalog(&[("stg_shop__orders", &["order_id", "order"])]),
    );
    write(
        p,
        "datachonk.yaml",
        "generate:\n  dialect: snowflake\n  templates_dir: datachonk/templates\n",
    );
    write(
        p,
        "datachonk/templates/marts/dim.yml",
        "# ours\nmodels:\n  - name: [[ entity.model ]]\n",
    );
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    let sql = read(p, "models/core/d_orders.sql");
    assert!(
        sql.contains("        order_id,\n        \"ORDER\"\n"),
        "a reserved word is quoted for the dialect:\n{sql}"
    );
    assert_eq!(
        read(p, "models/core/d_orders.yml"),
        "# ours\nmodels:\n  - name: d_orders\n"
    );
}

#[test]
fn names_follow_the_layout_pattern_materializations_and_the_spine_are_configurable() {
    let spec = "layout:\n  dim_name: \"dim_{singular}\"\n  fct_name: \"fact_{name}\"\n  fct_materialized: view\n  time_spine_start: \"2020-01-01\"\n  time_spine_end: \"2030-12-31\"\nentities:\n  customers: { from: stg_shop__customers, key: customer_id, attributes: [country], materialized: ephemeral }\nfacts:\n  orders: { from: stg_shop__orders, grain: order_id, entities: [customers], measures: [amount], time: ordered_at }\nmetrics:\n  revenue: { fact: orders, measure: amount }\n";
    let dir = project(spec);
    let p = dir.path();
    write(
        p,
        "target/catalog.json",
        &catalog(&[
            ("stg_shop__customers", &["customer_id", "country"]),
            (
                "stg_shop__orders",
                &["order_id", "customer_id", "amount", "ordered_at"],
            ),
        ]),
    );
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    let dim = read(p, "models/marts/dim_customer.sql");
    assert!(
        dim.contains("{{ config(materialized='ephemeral') }}"),
        "{dim}"
    );
    let fct = read(p, "models/marts/fact_orders.sql");
    assert!(fct.contains("{{ config(materialized='view') }}"), "{fct}");
    assert!(fct.contains("{{ ref('dim_customer') }}"), "{fct}");
    let spine = read(p, "models/marts/metricflow_time_spine.sql");
    assert!(spine.contains("dbt.date_spine('day', 'cast(\\'2020-01-01\\' as date)', dbt.dateadd('day', 1, 'cast(\\'2030-12-31\\' as date)'))"), "{spine}");

    write(
        p,
        "datachonk/model.yml",
        &spec
            .replace("2030-12-31", "2030-13-01")
            .replace("fct_materialized: view", "fct_materialized: tabel"),
    );
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("datachonk/model.yml:4:21: unknown materialization `tabel` (write `table`)"),
        "{out}"
    );
    assert!(
        out.contains("datachonk/model.yml:6:19: `2030-13-01` is not a date"),
        "{out}"
    );
}

#[test]
fn column_descriptions_from_the_spec_reach_the_models_and_the_semantic_layer() {
    let dir = project(
        "entities:
  customers:
    from: stg_shop__customers
    key: customer_id
    attributes: [customer_name, email]
    descriptions:
      customer_id: The shop's customer number.
      email: 'Where receipts go: \"quoted\" # not a comment'
facts:
  orders:
    from: stg_shop__orders
    grain: order_id
    entities: [customers]
    measures: [amount]
    time: ordered_at
    descriptions: { amount: Order total in EUR., ordered_at: When the order was placed. }
metrics:
  revenue: { fact: orders, measure: amount, agg: sum }
",
    );
    let p = dir.path();
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 0, "{out}");
    let dim = read(p, "models/marts/dim_customers.yml");
    assert!(
        dim.contains(
            "      - name: customer_id\n        description: \"The shop's customer number.\"\n"
        ),
        "{dim}"
    );
    assert!(
        dim.contains("      - name: email\n        type: categorical\n        description: \"Where receipts go: \\\"quoted\\\" # not a comment\"\n"),
        "the semantic dimension carries it too: {dim}"
    );
    let fct = read(p, "models/marts/fct_orders.yml");
    assert!(
        fct.contains("      - name: amount\n        description: Order total in EUR.\n"),
        "{fct}"
    );
    assert!(
        fct.contains("description: Order total in EUR.\n        agg: sum"),
        "the measure carries it: {fct}"
    );
    assert!(
        fct.contains("      - name: ordered_at\n        type: time\n        description: When the order was placed."),
        "{fct}"
    );

    // A description of a column the entity does not have is refused with what it could be.
    write(
        p,
        "datachonk/model.yml",
        "entities:\n  customers:\n    from: stg_shop__customers\n    key: customer_id\n    attributes: [email]\n    descriptions: { emial: typo }\n",
    );
    let (code, out) = run(p, &["generate"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "datachonk/model.yml:6:19: descriptions: `emial` is not a column of entity customers"
        ),
        "{out}"
    );
    assert!(
        out.contains("its key and attributes: customer_id, email"),
        "{out}"
    );
}
