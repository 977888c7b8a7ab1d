//! Tests of `render`.

use super::*;

#[test]
fn column_references_are_quoted_only_when_needed_in_the_dialect_case() {
    assert_eq!(column_ref(Dialect::Snowflake, "order_id"), "order_id");
    assert_eq!(column_ref(Dialect::Snowflake, "order"), "\"ORDER\"");
    assert_eq!(column_ref(Dialect::Postgres, "order"), "\"order\"");
    assert_eq!(column_ref(Dialect::Bigquery, "order"), "`order`");
    assert_eq!(
        column_ref(Dialect::Postgres, "Email Address"),
        "\"Email Address\""
    );
    assert_eq!(column_ref(Dialect::Duckdb, "CustomerId"), "CustomerId");
}

#[test]
fn surrogate_keys_use_dbt_cross_database_macros() {
    assert_eq!(
            surrogate_key(&["customer_id".into()]),
            "{{ dbt.hash(\"coalesce(\" ~ dbt.cast('customer_id', dbt.type_string()) ~ \", '_dc_null_')\") }}"
        );
    let two = surrogate_key(&["\"Order\"".into(), "it's".into()]);
    assert!(two.starts_with("{{ dbt.hash(dbt.concat(["), "{two}");
    assert!(two.contains("dbt.cast('\"Order\"', "), "{two}");
    assert!(two.contains("dbt.cast('it\\'s', "), "{two}");
    assert!(two.contains(", \"'|'\", "), "{two}");
}
