//! Relationships between tables, from the warehouse (issue 15 §3): foreign keys the database
//! declares, then naming patterns (`<entity>_id` → the table or model whose key it is,
//! singular or plural, and the spec's entity keys), then — with a live database — the overlap
//! of sampled values. Each with its evidence and a confidence between 0 and 1.

use std::collections::BTreeMap;

use serde::Serialize;

use super::marts::model::singular;
use super::metadata::{Metadata, Table};
use super::quoting::Dialect;

/// A foreign key the database declares.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    pub name: String,
    pub from_schema: String,
    pub from_table: String,
    pub from_columns: Vec<String>,
    pub to_schema: String,
    pub to_table: String,
    pub to_columns: Vec<String>,
}

/// An entity of the spec: the model it is built from and its key.
#[derive(Debug, Clone)]
pub struct EntityKey {
    pub entity: String,
    pub model: String,
    pub key: Vec<String>,
}

/// One end of a relationship: a relation and its columns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct End {
    /// `schema.table` for a warehouse table, the model's name for a project node.
    pub relation: String,
    #[serde(skip)]
    pub schema: Option<String>,
    #[serde(skip)]
    pub table: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Relationship {
    pub from: End,
    pub to: End,
    /// `foreign-key` (declared) or `naming` (pattern).
    pub kind: &'static str,
    pub evidence: Vec<String>,
    pub confidence: f64,
}

/// The catalog's name of a table (`stg_shop__customers` → `customers`, `dim_customers` →
/// `customers`).
pub fn base_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let stripped = match lower.split_once("__") {
        Some((prefix, rest)) if prefix.starts_with("stg_") || prefix.starts_with("base_") => rest,
        _ => lower.as_str(),
    };
    for p in ["stg_", "dim_", "fct_", "raw_", "src_"] {
        if let Some(rest) = stripped.strip_prefix(p) {
            return rest.to_string();
        }
    }
    stripped.to_string()
}

fn end(t: &Table, columns: Vec<String>) -> End {
    End {
        relation: if t.project_node {
            t.name.clone()
        } else {
            format!("{}.{}", t.schema, t.name)
        },
        schema: (!t.project_node).then(|| t.schema.clone()),
        table: t.name.clone(),
        columns,
    }
}

fn has(t: &Table, col: &str) -> Option<String> {
    t.columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(col))
        .map(|c| c.name.clone())
}

/// Declared foreign keys first, then naming patterns, sorted by where they start.
pub fn detect(
    metadata: &Metadata,
    fks: &[ForeignKey],
    entities: &[EntityKey],
) -> Vec<Relationship> {
    let mut found: BTreeMap<(End, End), Relationship> = BTreeMap::new();
    let by_name = |schema: &str, table: &str| {
        metadata
            .tables
            .iter()
            .find(|t| t.schema == schema && t.name == table)
    };
    for fk in fks {
        let from = match by_name(&fk.from_schema, &fk.from_table) {
            Some(t) => end(t, fk.from_columns.clone()),
            None => End {
                relation: format!("{}.{}", fk.from_schema, fk.from_table),
                schema: Some(fk.from_schema.clone()),
                table: fk.from_table.clone(),
                columns: fk.from_columns.clone(),
            },
        };
        let to = match by_name(&fk.to_schema, &fk.to_table) {
            Some(t) => end(t, fk.to_columns.clone()),
            None => End {
                relation: format!("{}.{}", fk.to_schema, fk.to_table),
                schema: Some(fk.to_schema.clone()),
                table: fk.to_table.clone(),
                columns: fk.to_columns.clone(),
            },
        };
        found.insert(
            (from.clone(), to.clone()),
            Relationship {
                from,
                to,
                kind: "foreign-key",
                evidence: vec![format!("foreign key {} declared in the database", fk.name)],
                confidence: 1.0,
            },
        );
    }
    let mut add = |from: End, to: End, evidence: String, confidence: f64| {
        let r = found
            .entry((from.clone(), to.clone()))
            .or_insert(Relationship {
                from,
                to,
                kind: "naming",
                evidence: Vec::new(),
                confidence: 0.0,
            });
        if !r.evidence.contains(&evidence) {
            r.evidence.push(evidence);
        }
        r.confidence = r.confidence.max(confidence);
    };
    let bases: Vec<String> = metadata.tables.iter().map(|t| base_name(&t.name)).collect();
    for (i, t) in metadata.tables.iter().enumerate() {
        for c in &t.columns {
            let lower = c.name.to_ascii_lowercase();
            let Some(stem) = lower.strip_suffix("_id").filter(|s| !s.is_empty()) else {
                continue;
            };
            for (j, target) in metadata.tables.iter().enumerate() {
                if i == j || !(bases[j] == stem || singular(&bases[j]) == stem) {
                    continue;
                }
                // Same schema kind only: a model refers to models, a table to tables.
                if target.project_node != t.project_node {
                    continue;
                }
                let (column, why, confidence) = if let Some(k) = has(target, &c.name) {
                    let pk = target
                        .columns
                        .iter()
                        .any(|x| x.name == k && x.is_primary_key);
                    (
                        k,
                        if pk {
                            "its primary key"
                        } else {
                            "a column of the same name"
                        },
                        if pk { 0.85 } else { 0.7 },
                    )
                } else if let Some(k) = has(target, "id") {
                    let pk = target
                        .columns
                        .iter()
                        .any(|x| x.name == k && x.is_primary_key);
                    (
                        k,
                        if pk {
                            "its primary key id"
                        } else {
                            "its column id"
                        },
                        if pk { 0.8 } else { 0.6 },
                    )
                } else {
                    continue;
                };
                add(
                    end(t, vec![c.name.clone()]),
                    end(target, vec![column.clone()]),
                    format!("naming: {} → {} ({why})", c.name, bases[j]),
                    confidence,
                );
            }
        }
        // The spec's entities: a column named like an entity's key refers to that entity.
        for e in entities {
            if e.key.len() != 1 || t.name.eq_ignore_ascii_case(&e.model) {
                continue;
            }
            let Some(col) = has(t, &e.key[0]) else {
                continue;
            };
            let Some(target) = metadata.tables.iter().find(|x| {
                x.name.eq_ignore_ascii_case(&e.model) && x.project_node == t.project_node
            }) else {
                continue;
            };
            add(
                end(t, vec![col.clone()]),
                end(target, vec![e.key[0].clone()]),
                format!("spec: entity {} has key {}", e.entity, e.key[0]),
                0.9,
            );
        }
    }
    let mut out: Vec<Relationship> = found.into_values().collect();
    for r in &mut out {
        r.confidence = (r.confidence * 100.0).round() / 100.0;
    }
    out
}

/// Maximum distinct values sampled per candidate; maximum candidates checked.
pub const SAMPLE: usize = 1000;
pub const MAX_CHECKED: usize = 200;

/// The query sampling a naming candidate's values (warehouse tables only): how many distinct
/// values were sampled and how many of them the target has.
pub fn overlap_sql(r: &Relationship) -> Option<String> {
    let d = Dialect::Postgres;
    let (fs, ts) = (r.from.schema.as_ref()?, r.to.schema.as_ref()?);
    let ([fc], [tc]) = (r.from.columns.as_slice(), r.to.columns.as_slice()) else {
        return None;
    };
    Some(format!(
        "select count(*)::text, count(p.v)::text from (select distinct cast(c.{fc} as text) as v from {fs}.{ft} c where c.{fc} is not null limit {SAMPLE}) s left join (select distinct cast(t.{tc} as text) as v from {ts}.{tt} t) p on p.v = s.v",
        fc = d.quote(fc),
        tc = d.quote(tc),
        fs = d.quote(fs),
        ft = d.quote(&r.from.table),
        ts = d.quote(ts),
        tt = d.quote(&r.to.table),
    ))
}

/// Fold a sample's result into a candidate's evidence and confidence.
pub fn apply_overlap(r: &mut Relationship, sampled: u64, found: u64) {
    if sampled == 0 {
        r.evidence
            .push("values: none to compare (the column is empty)".into());
        return;
    }
    let ratio = found as f64 / sampled as f64;
    r.evidence.push(format!(
        "values: {found} of {sampled} sampled distinct values found in {}",
        r.to.relation
    ));
    r.confidence = if found == sampled {
        r.confidence.max(0.95)
    } else if ratio >= 0.9 {
        r.confidence
    } else {
        r.confidence * ratio
    };
    r.confidence = (r.confidence * 100.0).round() / 100.0;
}

/// Foreign keys with their columns in order (`pg_constraint`), `$1` = schemas or null.
pub const FOREIGN_KEYS_SQL: &str = "
    select con.conname::text, fn.nspname::text, fc.relname::text, tn.nspname::text, tc.relname::text,
           (select string_agg(a.attname::text, chr(31) order by k.ord)
              from unnest(con.conkey) with ordinality k(att, ord)
              join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.att),
           (select string_agg(a.attname::text, chr(31) order by k.ord)
              from unnest(con.confkey) with ordinality k(att, ord)
              join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.att)
      from pg_catalog.pg_constraint con
      join pg_catalog.pg_class fc on fc.oid = con.conrelid
      join pg_catalog.pg_namespace fn on fn.oid = fc.relnamespace
      join pg_catalog.pg_class tc on tc.oid = con.confrelid
      join pg_catalog.pg_namespace tn on tn.oid = tc.relnamespace
     where con.contype = 'f' and ($1::text[] is null or fn.nspname = any($1))
     order by 2, 3, 1";

/// [`FOREIGN_KEYS_SQL`]'s rows.
pub fn foreign_keys(rows: &[Vec<Option<String>>]) -> Vec<ForeignKey> {
    let s = |r: &Vec<Option<String>>, i: usize| r.get(i).cloned().flatten().unwrap_or_default();
    let cols = |v: String| v.split('\u{1f}').map(str::to_string).collect::<Vec<_>>();
    rows.iter()
        .map(|r| ForeignKey {
            name: s(r, 0),
            from_schema: s(r, 1),
            from_table: s(r, 2),
            to_schema: s(r, 3),
            to_table: s(r, 4),
            from_columns: cols(s(r, 5)),
            to_columns: cols(s(r, 6)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::metadata::Column;

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
                    r.from.relation,
                    r.from.columns[0],
                    r.to.relation,
                    r.to.columns[0],
                    r.confidence
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                "raw.orders.category_id -> raw.category.category_id 0.7",
                "raw.orders.customer_id -> raw.customers.id 0.8",
                "stg_shop__orders.customer_id -> stg_shop__customers.customer_id 0.7",
            ]
        );
        let mut r = found[1].clone();
        apply_overlap(&mut r, 10, 10);
        assert_eq!(r.confidence, 0.95);
        let mut r = found[1].clone();
        apply_overlap(&mut r, 10, 3);
        assert_eq!(r.confidence, 0.24);
    }
}
