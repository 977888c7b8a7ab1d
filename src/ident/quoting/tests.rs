//! Tests of `quoting`.

use super::*;

#[test]
fn keyword_lists_are_sorted_for_binary_search() {
    for list in [
        POSTGRES_RESERVED,
        DUCKDB_RESERVED,
        SNOWFLAKE_RESERVED,
        BIGQUERY_RESERVED,
        ANSI_RESERVED,
    ] {
        assert!(list.windows(2).all(|w| w[0] < w[1]), "{:?}", list);
        // is_reserved rules words out by length and first letter, then lower-cases
        // into a buffer of the longest word's length.
        for w in list {
            assert!(!w.is_empty() && w.len() <= MAX_RESERVED_LEN, "{w}");
            assert!(
                w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{w}"
            );
        }
    }
}

#[test]
fn every_reserved_word_is_found_in_any_case() {
    for d in [
        Dialect::Postgres,
        Dialect::Redshift,
        Dialect::Duckdb,
        Dialect::Snowflake,
        Dialect::Bigquery,
        Dialect::Databricks,
    ] {
        let list = match d {
            Dialect::Duckdb => DUCKDB_RESERVED,
            Dialect::Postgres | Dialect::Redshift => POSTGRES_RESERVED,
            Dialect::Snowflake => SNOWFLAKE_RESERVED,
            Dialect::Bigquery => BIGQUERY_RESERVED,
            Dialect::Databricks => ANSI_RESERVED,
        };
        for w in list {
            assert!(d.is_reserved(w), "{d} {w}");
            assert!(d.is_reserved(&w.to_ascii_uppercase()), "{d} {w}");
            assert!(!d.is_reserved(&format!("{w}x")), "{d} {w}x");
            assert!(!d.is_reserved(&format!("x{w}")), "{d} x{w}");
        }
        for w in [
            "",
            "a",
            "column01_name",
            "Ωselect",
            "_",
            "select1",
            &"x".repeat(40),
        ] {
            assert!(!d.is_reserved(w), "{d} {w:?}");
        }
    }
}

#[test]
fn snowflake_quotes_anything_not_upper_case() {
    let d = Dialect::Snowflake;
    assert_eq!(d.quote_if_needed("ORDER_ID"), "ORDER_ID");
    assert_eq!(d.quote_if_needed("order_id"), "\"order_id\"");
    assert_eq!(d.quote_if_needed("OrderId"), "\"OrderId\"");
    assert_eq!(d.quote_if_needed("ORDER"), "\"ORDER\"");
    assert_eq!(d.quote_if_needed("Total Amount"), "\"Total Amount\"");
}

#[test]
fn postgres_quotes_anything_not_lower_case() {
    let d = Dialect::Postgres;
    assert_eq!(d.quote_if_needed("order_id"), "order_id");
    assert_eq!(d.quote_if_needed("OrderId"), "\"OrderId\"");
    assert_eq!(d.quote_if_needed("ORDER_ID"), "\"ORDER_ID\"");
    assert_eq!(d.quote_if_needed("select"), "\"select\"");
    assert_eq!(d.quote_if_needed("2fa"), "\"2fa\"");
    assert_eq!(d.quote_if_needed("say \"hi\""), "\"say \"\"hi\"\"\"");
}

#[test]
fn case_insensitive_dialects_quote_only_odd_names_and_keywords() {
    assert_eq!(Dialect::Duckdb.quote_if_needed("OrderId"), "OrderId");
    assert_eq!(Dialect::Duckdb.quote_if_needed("order"), "\"order\"");
    assert_eq!(Dialect::Bigquery.quote_if_needed("OrderId"), "OrderId");
    assert_eq!(
        Dialect::Bigquery.quote_if_needed("Order Items"),
        "`Order Items`"
    );
    assert_eq!(Dialect::Bigquery.quote_if_needed("a`b"), "`a\\`b`");
    assert_eq!(Dialect::Databricks.quote_if_needed("select"), "`select`");
}
