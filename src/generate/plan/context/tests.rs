//! Tests of `context`.

use super::*;

fn col(name: &str, ty: &str) -> Column {
    Column {
        name: name.into(),
        data_type: ty.into(),
        description: None,
        is_primary_key: false,
    }
}

fn table(name: &str, columns: Vec<Column>) -> Table {
    Table {
        source: "shop".into(),
        database: Some("wh".into()),
        schema: "raw".into(),
        name: name.into(),
        kind: None,
        description: Some("Has {{ braces }} and {% tags %}".into()),
        columns,
        ..Table::default()
    }
}

#[test]
fn derives_names_quoting_keys_and_casts() {
    let t = table(
        "Order Items",
        vec![
            col("ID", "INTEGER"),
            col("order", "VARCHAR"),
            col("2fa", "BOOLEAN"),
        ],
    );
    let mut cfg = GenerateConfig::default();
    cfg.type_map.insert("integer".into(), "bigint".into());
    let s = build(vec![t.clone()], &cfg).unwrap();
    let t = &s[0].tables[0];
    assert_eq!(
        (t.name.as_str(), t.model_name.as_str()),
        ("order_items", "stg_shop__order_items")
    );
    assert!(t.has_identifier && t.quote_identifier);
    let c: Vec<(&str, &str, &str)> = t
        .columns
        .iter()
        .map(|c| (c.name(), c.quoted_name(), c.alias()))
        .collect();
    assert_eq!(
        c,
        [
            ("ID", "\"ID\"", "order_item_id"),
            ("order", "\"order\"", "order_"),
            ("2fa", "\"2fa\"", "_2fa")
        ]
    );
    assert_eq!(t.primary_key.as_deref(), Some("order_item_id"));
    assert_eq!(t.columns[0].cast_type.as_deref(), Some("bigint"));
    assert_eq!(t.columns[1].cast_type, None);
    assert_eq!(
        t.description,
        "Has {{ '{{' }} braces }} and {{ '{%' }} tags %}"
    );
}

#[test]
fn style_renames_keep_the_plain_alias_when_they_would_clash() {
    let cfg = GenerateConfig::default();
    // `raw_orders`: the model is `stg_shop__orders`, its entity `order`.
    let t = table(
        "raw_orders",
        vec![
            col("id", "INTEGER"),
            col("created_ts", "TIMESTAMP"),
            col("created_at", "TIMESTAMP"),
            col("ship_dt", "DATE"),
            col("Paid", "BOOLEAN"),
        ],
    );
    let s = build(vec![t.clone()], &cfg).unwrap();
    let t0 = &s[0].tables[0];
    assert_eq!(t0.model_name, "stg_shop__orders");
    assert_eq!(t0.name, "raw_orders");
    let aliases: Vec<&str> = t0.columns.iter().map(|c| c.alias()).collect();
    assert_eq!(
        aliases,
        ["order_id", "created_ts", "created_at", "ship_date", "paid"]
    );
    assert_eq!(t0.primary_key.as_deref(), Some("order_id"));
    // A table that has both `id` and `order_id`: the key keeps its name.
    let both = table(
        "orders",
        vec![col("id", "INTEGER"), col("order_id", "INTEGER")],
    );
    let s = build(vec![both], &cfg).unwrap();
    let aliases: Vec<&str> = s[0].tables[0].columns.iter().map(|c| c.alias()).collect();
    assert_eq!(aliases, ["id", "order_id"]);
    // Configured off, or a boolean prefix on.
    let cfg = GenerateConfig {
        key_alias: String::new(),
        boolean_prefix: "is_".into(),
        strip_prefixes: Vec::new(),
        ..GenerateConfig::default()
    };
    let s = build(vec![t], &cfg).unwrap();
    let t0 = &s[0].tables[0];
    assert_eq!(t0.model_name, "stg_shop__raw_orders");
    let aliases: Vec<&str> = t0.columns.iter().map(|c| c.alias()).collect();
    assert_eq!(
        aliases,
        ["id", "created_ts", "created_at", "ship_date", "is_paid"]
    );
}

#[test]
fn unescape_undoes_escape() {
    for raw in [
        "{{ x }}",
        "{% raw %}",
        "{# c #}",
        "{{{{",
        "a { b }",
        "{{ '{{' }}",
        "",
    ] {
        assert_eq!(unescape_jinja(&escape_jinja(raw)), raw, "{raw}");
    }
}

#[test]
fn refuses_colliding_columns_and_tables() {
    let t = table(
        "orders",
        vec![col("OrderId", "INT"), col("order_id", "INT")],
    );
    let err = build(vec![t], &GenerateConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "columns of shop.orders collide after snake_casing: \"OrderId\", \"order_id\" → order_id"
    );
    let a = table("Order Items", vec![]);
    let b = table("order_items", vec![]);
    let err = build(vec![a, b], &GenerateConfig::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("shop.\"Order Items\", shop.\"order_items\" → order_items"),
        "{err}"
    );
}

#[test]
fn names_the_dialect_cannot_hold_are_refused_with_table_and_column_index() {
    let cfg = GenerateConfig::default();
    let empty = table("orders", vec![col("id", "INT"), col("", "INT")]);
    assert_eq!(
        build(vec![empty], &cfg).unwrap_err().to_string(),
        "shop.orders: column 2 (\"\"): the name is empty"
    );
    let long = "a".repeat(100_000);
    let err = build(vec![table("orders", vec![col(&long, "INT")])], &cfg).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("shop.orders: column 1 (\"aaaa")
            && msg.ends_with("…\"): 100000 bytes long; postgres holds at most 63"),
        "{msg}"
    );
    // 63 bytes is fine; an alias snake_case makes longer is not.
    let ok = "a".repeat(63);
    assert!(build(vec![table("orders", vec![col(&ok, "INT")])], &cfg).is_ok());
    let camel = "aB".repeat(30);
    let err = build(vec![table("orders", vec![col(&camel, "INT")])], &cfg).unwrap_err();
    assert!(
        err.to_string().contains("its alias `a_ba_ba_b")
            && err.to_string().contains("90 bytes long"),
        "{err}"
    );
    // DuckDB holds any length; an empty name nowhere.
    let duck = GenerateConfig {
        dialect: "duckdb".into(),
        ..GenerateConfig::default()
    };
    assert!(build(vec![table("orders", vec![col(&long, "INT")])], &duck).is_ok());
    let err = build(vec![table("", vec![col("id", "INT")])], &duck).unwrap_err();
    assert_eq!(err.to_string(), "table shop.: the name is empty");
    let err = build(vec![table("{# #}", vec![col("id", "INT")])], &duck).unwrap_err();
    assert!(err.to_string().contains("no letter or digit"), "{err}");
}

#[test]
fn configured_key_must_exist() {
    let t = table("orders", vec![col("code", "INT")]);
    let mut cfg = GenerateConfig::default();
    cfg.primary_keys.insert("shop.orders".into(), "nope".into());
    assert!(matches!(
        build(vec![t.clone()], &cfg),
        Err(ContextError::PrimaryKeyNotFound { .. })
    ));
    cfg.primary_keys.insert("shop.orders".into(), "code".into());
    assert_eq!(
        build(vec![t.clone()], &cfg).unwrap()[0].tables[0]
            .primary_key
            .as_deref(),
        Some("code")
    );
}
