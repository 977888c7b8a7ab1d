//! Tests of `warehouse`.

use super::*;

#[test]
fn specs_are_schemas_and_tables() {
    let w = Warehouse::new(".".into(), &["raw".into(), "shop.Orders,crm".into()], None).unwrap();
    assert_eq!(
        w.specs,
        vec![
            Spec {
                schema: "raw".into(),
                table: None
            },
            Spec {
                schema: "shop".into(),
                table: Some("Orders".into())
            },
            Spec {
                schema: "crm".into(),
                table: None
            },
        ]
    );
    assert_eq!(w.describe(), "warehouse raw, shop.Orders, crm");
    for bad in ["", "a.", ".b", "a.b.c"] {
        assert!(
            Warehouse::new(".".into(), &[bad.into()], None).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_query_escapes_quotes_and_jinja_in_names() {
    let q = query(&["it's".into(), "{{ x }}".into()]);
    assert!(q.contains("in ('it''s', '{{ '{{' }} x }}')"), "{q}");
    assert!(
        q.contains("`{{ '{{' }} x }}`.INFORMATION_SCHEMA.COLUMNS"),
        "{q}"
    );
    for adapter in [
        "duckdb",
        "postgres",
        "redshift",
        "bigquery",
        "snowflake",
        "databricks",
    ] {
        assert!(q.contains(&format!("t == '{adapter}'")), "{adapter}");
    }
}

#[test]
fn rows_become_tables_in_column_order_and_named_tables_are_selected() {
    let stdout = concat!(
            "{\"info\": {\"name\": \"MainReportVersion\", \"level\": \"info\"}, \"data\": {}}\n",
            "{\"info\": {\"name\": \"ShowNode\", \"level\": \"info\"}, \"data\": {\"preview\": ",
            "\"[{\\\"TABLE_SCHEMA\\\": \\\"RAW\\\", \\\"TABLE_NAME\\\": \\\"ORDERS\\\", \\\"COLUMN_NAME\\\": \\\"B\\\", \\\"DATA_TYPE\\\": \\\"TEXT\\\", \\\"ORDINAL_POSITION\\\": 2, \\\"COLUMN_COMMENT\\\": \\\"\\\"}, ",
            "{\\\"TABLE_SCHEMA\\\": \\\"RAW\\\", \\\"TABLE_NAME\\\": \\\"ORDERS\\\", \\\"COLUMN_NAME\\\": \\\"ID\\\", \\\"DATA_TYPE\\\": \\\"NUMBER\\\", \\\"ORDINAL_POSITION\\\": \\\"1\\\", \\\"IS_PRIMARY_KEY\\\": true, \\\"TABLE_COMMENT\\\": \\\"Orders\\\"}, ",
            "{\\\"TABLE_SCHEMA\\\": \\\"RAW\\\", \\\"TABLE_NAME\\\": \\\"OTHER\\\", \\\"COLUMN_NAME\\\": \\\"X\\\", \\\"DATA_TYPE\\\": null, \\\"ORDINAL_POSITION\\\": 1}]\"}}\n",
        );
    let rows = rows_of(stdout).unwrap().unwrap();
    let specs = [Spec {
        schema: "raw".into(),
        table: Some("orders".into()),
    }];
    let m = metadata(rows.clone(), &specs).unwrap();
    // The whole schema is read (its source lists every table), the named one selected.
    assert_eq!(m.tables.len(), 2);
    let w = Warehouse {
        root: ".".into(),
        specs: specs.to_vec(),
        target: None,
        timeout: DEFAULT_TIMEOUT,
    };
    assert_eq!(w.selection(), ["*.orders"]);
    let t = &m.tables[0];
    assert_eq!(
        (t.source.as_str(), t.schema.as_str(), t.name.as_str()),
        ("raw", "RAW", "ORDERS")
    );
    assert_eq!(t.description.as_deref(), Some("Orders"));
    let cols: Vec<(&str, &str, bool)> = t
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str(), c.is_primary_key))
        .collect();
    assert_eq!(cols, [("ID", "NUMBER", true), ("B", "TEXT", false)]);
    assert_eq!(t.columns[1].description, None);
    let missing = [Spec {
        schema: "raw".into(),
        table: Some("nope".into()),
    }];
    let err = metadata(rows, &missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the warehouse has no table raw.nope (as dbt's target sees it)"
    );
}

#[test]
fn failures_are_dbts_messages_not_tracebacks() {
    let stdout = "{\"info\": {\"level\": \"error\", \"msg\": \"Encountered an error:\\nRuntime Error\\n  Could not find profile named 'p'\"}}\n";
    let status = std::process::Command::new("false").status().unwrap();
    assert_eq!(
        failure(stdout, "", status),
        "Runtime Error\n  Could not find profile named 'p'"
    );
    let trace = "Traceback (most recent call last):\n  File \"x.py\", line 1\nModuleNotFoundError: No module named 'dbt'\n";
    let msg = failure("", trace, status);
    assert!(
        msg.starts_with("ModuleNotFoundError: No module named 'dbt' ("),
        "{msg}"
    );
    assert!(rows_of(stdout).is_none());
}
