//! Relationships between tables, from the warehouse (issue 15 §3): foreign keys the database
//! declares, then naming patterns (`<entity>_id` → the table or model whose key it is,
//! singular or plural, and the spec's entity keys), then — with a live database — the overlap
//! of sampled values. Each with its evidence and a confidence between 0 and 1.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::generate::read::metadata::{Metadata, Table};
use crate::ident::names::singular;
use crate::ident::quoting::Dialect;

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
                // Same schema kind only: a model refers to models, a table to tables.
                if target.project_node != t.project_node {
                    continue;
                }
                // A staging model and the dimension built from it are copies, not related.
                if i != j && bases[i] == bases[j] {
                    continue;
                }
                let (b, one) = (&bases[j], singular(&bases[j]));
                let exact = stem == b.as_str() || stem == one;
                // A role before the table's name: manager_staff_id → staff,
                // original_language_id → language.
                let role = !exact
                    && [b.as_str(), one.as_str()]
                        .iter()
                        .any(|n| stem.ends_with(&format!("_{n}")));
                if !exact && !role {
                    continue;
                }
                let pk_of = |k: &str| {
                    target
                        .columns
                        .iter()
                        .any(|x| x.name == k && x.is_primary_key)
                };
                let key = [format!("{one}_id"), format!("{b}_id"), "id".to_string()]
                    .iter()
                    .find_map(|k| has(target, k).filter(|k| pk_of(k)));
                let (column, why, confidence) = match (exact, key) {
                    (true, _) if has(target, &c.name).is_some_and(|k| pk_of(&k)) => (
                        has(target, &c.name).unwrap_or_default(),
                        "its primary key",
                        0.7,
                    ),
                    (_, Some(k)) => {
                        let why = if role {
                            "a role before its primary key"
                        } else {
                            "its primary key"
                        };
                        (k, why, if role { 0.6 } else { 0.7 })
                    }
                    (true, None) => match has(target, &c.name) {
                        Some(k) => (k, "a column of the same name", 0.5),
                        None => continue,
                    },
                    (false, None) => continue,
                };
                if i == j && column.eq_ignore_ascii_case(&c.name) {
                    continue;
                }
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
                0.8,
            );
        }
    }
    let mut out: Vec<Relationship> = found.into_values().collect();
    for r in &mut out {
        r.confidence = (r.confidence * 100.0).round() / 100.0;
    }
    out
}

/// Maximum distinct values sampled per candidate; maximum candidates checked (named ones
/// first, then value-only ones).
pub const SAMPLE: usize = 1000;
pub const MAX_CHECKED: usize = 400;

/// The relationships' default threshold: name alone (0.6-0.7), name and values, values alone
/// on a sample large enough to mean something, declared keys.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.5;

/// How much a sample of `n` distinct values says (0 for one value, 1 from 100 on): two
/// matching values are not 599.
fn sample_weight(n: u64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    ((n as f64).log10() / 2.0).min(1.0)
}

/// A kind of value a key can hold, from the warehouse's type name (`None`: not a key type).
fn key_family(data_type: &str) -> Option<&'static str> {
    let t = data_type.to_ascii_lowercase();
    if t.contains("int") || t == "serial" || t == "bigserial" {
        Some("integer")
    } else if t.contains("char") || t.contains("text") || t.contains("string") {
        Some("text")
    } else if t == "uuid" {
        Some("uuid")
    } else {
        None
    }
}

/// Candidates on values alone: a column of a key's type (not its table's own key, not already a
/// candidate) against every other table's single-column primary key. At most `limit`.
pub fn value_candidates(
    metadata: &Metadata,
    found: &[Relationship],
    limit: usize,
) -> Vec<Relationship> {
    let mut out = Vec::new();
    let keys: Vec<(&Table, &crate::generate::read::metadata::Column)> = metadata
        .tables
        .iter()
        .filter(|t| !t.project_node)
        .filter_map(|t| {
            let pks: Vec<_> = t.columns.iter().filter(|c| c.is_primary_key).collect();
            match pks.as_slice() {
                [one] => Some((t, *one)),
                _ => None,
            }
        })
        .collect();
    for t in metadata.tables.iter().filter(|t| !t.project_node) {
        let pks = t.columns.iter().filter(|c| c.is_primary_key).count();
        for c in &t.columns {
            if c.is_primary_key && pks == 1 {
                continue;
            }
            let Some(family) = key_family(&c.data_type) else {
                continue;
            };
            let from = end(t, vec![c.name.clone()]);
            if found.iter().any(|r| r.from == from) {
                continue;
            }
            for (u, k) in &keys {
                if std::ptr::eq(*u, t) || key_family(&k.data_type) != Some(family) {
                    continue;
                }
                if out.len() >= limit {
                    return out;
                }
                out.push(Relationship {
                    from: from.clone(),
                    to: end(u, vec![k.name.clone()]),
                    kind: "values",
                    evidence: Vec::new(),
                    confidence: 0.0,
                });
            }
        }
    }
    out
}

/// Grade value-only candidates: every sampled value in the target's key, on a sample that
/// says something, and in no other key the same column fits (serial keys 1..N all hold small
/// numbers). Candidates whose values do not all fit are dropped.
pub fn grade_value_candidates(candidates: Vec<(Relationship, u64, u64)>) -> Vec<Relationship> {
    let mut fits: BTreeMap<End, usize> = BTreeMap::new();
    for (r, n, f) in &candidates {
        if *n > 0 && n == f {
            *fits.entry(r.from.clone()).or_default() += 1;
        }
    }
    candidates
        .into_iter()
        .filter(|(_, n, f)| *n > 0 && n == f)
        .map(|(mut r, n, _)| {
            let k = fits[&r.from];
            r.evidence.push(format!(
                "values: all {n} sampled distinct values (at most {SAMPLE}) found in the key {}.{}",
                r.to.relation,
                r.to.columns.join(",")
            ));
            if k > 1 {
                r.evidence
                    .push(format!("ambiguous: they also fit {} other key(s)", k - 1));
            }
            r.confidence = (0.3 + 0.5 * sample_weight(n)) / k as f64;
            r.confidence = (r.confidence * 100.0).round() / 100.0;
            r
        })
        .collect()
}

/// Partitions (`pg_inherits`): (child schema, child, parent schema, parent), `$1` = schemas.
pub const PARTITIONS_SQL: &str = "
    select cn.nspname::text, c.relname::text, pn.nspname::text, p.relname::text
      from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid
      join pg_catalog.pg_namespace cn on cn.oid = c.relnamespace
      join pg_catalog.pg_class p on p.oid = i.inhparent
      join pg_catalog.pg_namespace pn on pn.oid = p.relnamespace
     where ($1::text[] is null or cn.nspname = any($1))";

/// Leave out what is not a table of its own: partitions fold into their root table (their
/// foreign keys become the root's), and views unless `include_views`. Returns (partitions
/// folded, views left out).
pub fn fold(
    metadata: &mut Metadata,
    fks: &mut Vec<ForeignKey>,
    partitions: &[Vec<Option<String>>],
    include_views: bool,
) -> (usize, usize) {
    let s = |r: &Vec<Option<String>>, i: usize| r.get(i).cloned().flatten().unwrap_or_default();
    let parent: BTreeMap<(String, String), (String, String)> = partitions
        .iter()
        .map(|r| ((s(r, 0), s(r, 1)), (s(r, 2), s(r, 3))))
        .collect();
    let root = |mut k: (String, String)| {
        for _ in 0..32 {
            match parent.get(&k) {
                Some(p) => k = p.clone(),
                None => break,
            }
        }
        k
    };
    let before = metadata.tables.len();
    metadata
        .tables
        .retain(|t| t.project_node || !parent.contains_key(&(t.schema.clone(), t.name.clone())));
    let folded = before - metadata.tables.len();
    let before = metadata.tables.len();
    if !include_views {
        metadata.tables.retain(|t| {
            t.project_node
                || !t.kind.as_deref().is_some_and(|k| {
                    k.eq_ignore_ascii_case("view") || k.eq_ignore_ascii_case("materialized view")
                })
        });
    }
    let views = before - metadata.tables.len();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for mut fk in fks.drain(..) {
        (fk.from_schema, fk.from_table) = root((fk.from_schema, fk.from_table));
        (fk.to_schema, fk.to_table) = root((fk.to_schema, fk.to_table));
        let key = (
            fk.from_schema.clone(),
            fk.from_table.clone(),
            fk.from_columns.clone(),
            fk.to_schema.clone(),
            fk.to_table.clone(),
            fk.to_columns.clone(),
        );
        let kept = metadata
            .tables
            .iter()
            .any(|t| t.schema == fk.from_schema && t.name == fk.from_table);
        if kept && seen.insert(key) {
            out.push(fk);
        }
    }
    *fks = out;
    (folded, views)
}

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
        // Name and values agree: high, the more so the larger the sample.
        r.confidence.max(0.75 + 0.2 * sample_weight(sampled))
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
mod tests;
