//! Tests of `keys`.

use super::*;
use crate::generate::read::metadata::Column;

fn table(schema: &str, name: &str, cols: &[(&str, bool)], node: bool) -> Table {
    Table {
        source: schema.into(),
        schema: schema.into(),
        name: name.into(),
        columns: cols
            .iter()
            .map(|(c, pk)| Column {
                name: c.to_string(),
                data_type: String::new(),
                description: None,
                is_primary_key: *pk,
            })
            .collect(),
        project_node: node,
        ..Table::default()
    }
}

#[test]
fn naming_patterns_singular_plural_and_staging_names() {
    assert_eq!(base_name("stg_shop__customers"), "customers");
    assert_eq!(base_name("dim_customers"), "customers");
    let m = Metadata {
        tables: vec![
            table("raw", "customers", &[("id", true), ("name", false)], false),
            table(
                "raw",
                "orders",
                &[("id", true), ("customer_id", false), ("category_id", false)],
                false,
            ),
            table("raw", "category", &[("category_id", false)], false),
            table(
                "main",
                "stg_shop__customers",
                &[("customer_id", false)],
                true,
            ),
            table(
                "main",
                "stg_shop__orders",
                &[("order_id", false), ("customer_id", false)],
                true,
            ),
        ],
    };
    let found = detect(&m, &[], &[]);
    let lines: Vec<String> = found
        .iter()
        .map(|r| {
            format!(
                "{}.{} -> {}.{} {}",
                r.from.relation, r.from.columns[0], r.to.relation, r.to.columns[0], r.confidence
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "raw.orders.category_id -> raw.category.category_id 0.5",
            "raw.orders.customer_id -> raw.customers.id 0.7",
            "stg_shop__orders.customer_id -> stg_shop__customers.customer_id 0.5",
        ]
    );
    let mut r = found[1].clone();
    apply_overlap(&mut r, 10, 10);
    assert_eq!(r.confidence, 0.85);
    let mut r = found[1].clone();
    apply_overlap(&mut r, 10, 3);
    assert_eq!(r.confidence, 0.21);
}
