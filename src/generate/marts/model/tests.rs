//! Tests of `model`.

use super::*;

#[test]
fn windows_and_expression_names_are_parsed() {
    assert_eq!(parse_window("7 days"), Some((7, "day".into())));
    assert_eq!(parse_window("1 month"), Some((1, "month".into())));
    assert_eq!(parse_window("seven days"), None);
    assert_eq!(parse_window("7 fortnights"), None);
    assert_eq!(parse_window("0 days"), None);
    assert_eq!(
        expr_names("coalesce(revenue, 0) / nullif(order_count, 0) * 1.5 + 'x y'"),
        ["revenue", "order_count"]
    );
    assert_eq!(
        expr_names("case when a is null then 0 else b end"),
        ["a", "b"]
    );
}

#[test]
fn singular_names() {
    assert_eq!(singular("customers"), "customer");
    assert_eq!(singular("categories"), "category");
    assert_eq!(singular("addresses"), "address");
    assert_eq!(singular("status"), "status");
    assert_eq!(singular("glass"), "glass");
    assert_eq!(
        key_name("customers", &["customer_id".into()]),
        "customer_key"
    );
}
