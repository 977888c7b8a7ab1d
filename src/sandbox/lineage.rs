//! The dependency graph of a simulated run's project: which models read which sources and
//! models, and which data tests check which model. The manifest's `parent_map`/`child_map`,
//! the skipping of nodes downstream of a failure and `sources.json` all come from this one
//! graph, so what a run reports and what its manifest says always agree.
//!
//! Models read from a checkout depend on what their SQL `ref`s and `source`s. A fixture's
//! models have no SQL: each reads its own `raw` source table and, after the first, the model
//! before it (so a failure skips the rest, as the fixture's order implies).

use std::collections::{BTreeMap, BTreeSet};

use super::manifest_from_checkout::{model_file, ModelFile};

/// A source table a model reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SourceTable {
    pub source: String,
    pub table: String,
}

impl SourceTable {
    pub fn unique_id(&self, project: &str) -> String {
        format!("source.{project}.{}.{}", self.source, self.table)
    }
}

/// unique id → the unique ids it reads from.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub parents: BTreeMap<String, Vec<String>>,
    pub sources: BTreeSet<SourceTable>,
}

pub fn model_unique_id(project: &str, model: &str) -> String {
    format!("model.{project}.{model}")
}

/// The graph of `models` (and of the extra nodes, e.g. tests named by failures).
pub fn graph(project: &str, models: &[String], files: &[ModelFile], extra: &[String]) -> Graph {
    let mut g = Graph::default();
    let known: BTreeSet<&str> = models.iter().map(String::as_str).collect();
    for (i, m) in models.iter().enumerate() {
        let (sources, refs): (Vec<SourceTable>, Vec<String>) = match model_file(files, m) {
            Some(f) => (
                jinja_calls(&f.raw_code, "source")
                    .into_iter()
                    .filter_map(|args| match args.as_slice() {
                        [s, t, ..] => Some(SourceTable {
                            source: s.clone(),
                            table: t.clone(),
                        }),
                        _ => None,
                    })
                    .collect(),
                jinja_calls(&f.raw_code, "ref")
                    .into_iter()
                    .filter_map(|args| args.last().cloned())
                    .filter(|r| known.contains(r.as_str()))
                    .collect(),
            ),
            None => (
                vec![fixture_source(m)],
                i.checked_sub(1)
                    .map(|p| models[p].clone())
                    .into_iter()
                    .collect(),
            ),
        };
        let mut parents: Vec<String> = sources.iter().map(|s| s.unique_id(project)).collect();
        parents.extend(refs.iter().map(|r| model_unique_id(project, r)));
        parents.sort();
        parents.dedup();
        g.sources.extend(sources);
        g.parents.insert(model_unique_id(project, m), parents);
    }
    for id in extra {
        if g.parents.contains_key(id) {
            continue;
        }
        g.parents.insert(
            id.clone(),
            tested_model(project, id, models).into_iter().collect(),
        );
    }
    for s in &g.sources {
        g.parents.insert(s.unique_id(project), Vec::new());
    }
    g
}

impl Graph {
    /// parent → children, every node present.
    pub fn children(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = self
            .parents
            .keys()
            .map(|k| (k.clone(), Vec::new()))
            .collect();
        for (child, parents) in &self.parents {
            for p in parents {
                out.entry(p.clone()).or_default().push(child.clone());
            }
        }
        out
    }

    /// Every node downstream of `failed`.
    pub fn downstream(&self, failed: &[String]) -> BTreeSet<String> {
        let children = self.children();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&String> = failed.iter().collect();
        while let Some(id) = stack.pop() {
            for c in children.get(id).into_iter().flatten() {
                if seen.insert(c.clone()) {
                    stack.push(c);
                }
            }
        }
        seen
    }
}

/// A fixture model `stg_orders` reads `source('raw', 'orders')`.
pub fn fixture_source(model: &str) -> SourceTable {
    SourceTable {
        source: "raw".into(),
        table: model.trim_start_matches("stg_").to_string(),
    }
}

/// The model a data test checks: the longest model name inside the test's name
/// (`not_null_stg_orders_id` → `stg_orders`), else the first model.
fn tested_model(project: &str, test_id: &str, models: &[String]) -> Option<String> {
    let name = test_id.split('.').nth(2).unwrap_or(test_id);
    models
        .iter()
        .filter(|m| name.contains(m.as_str()))
        .max_by_key(|m| m.len())
        .or(models.first())
        .map(|m| model_unique_id(project, m))
}

/// The quoted arguments of each `{{ name(...) }}` call in `raw` (e.g. `source('a', 'b')`),
/// read without rendering Jinja: enough for the manifest's `sources` and `refs`.
pub fn jinja_calls(raw: &str, name: &str) -> Vec<Vec<String>> {
    let mut calls = Vec::new();
    let needle = format!("{name}(");
    let mut rest = raw;
    while let Some(i) = rest.find(&needle) {
        let before = rest[..i].chars().next_back();
        let after = &rest[i + needle.len()..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let Some(end) = after.find(')') else { break };
        let args: Vec<String> = after[..end]
            .split(',')
            .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
            .filter(|a| !a.is_empty() && !a.contains('='))
            .collect();
        if !args.is_empty() {
            calls.push(args);
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_models_chain_and_tests_attach_to_their_model() {
        let models: Vec<String> = ["stg_customers", "stg_orders", "stg_payments"]
            .map(String::from)
            .to_vec();
        let g = graph(
            "a",
            &models,
            &[],
            &["test.a.not_null_stg_orders_id".to_string()],
        );
        assert_eq!(
            g.parents["model.a.stg_customers"],
            ["source.a.raw.customers"]
        );
        assert_eq!(
            g.parents["model.a.stg_payments"],
            ["model.a.stg_orders", "source.a.raw.payments"]
        );
        assert_eq!(
            g.parents["test.a.not_null_stg_orders_id"],
            ["model.a.stg_orders"]
        );
        let down = g.downstream(&["model.a.stg_orders".to_string()]);
        assert!(
            down.contains("model.a.stg_payments") && down.contains("test.a.not_null_stg_orders_id")
        );
        assert!(!down.contains("model.a.stg_customers"));
    }

    #[test]
    fn jinja_calls_reads_sources_and_refs() {
        let raw = "select * from {{ source('shop', \"orders\") }} join {{ ref('stg_x') }} -- my_ref('no')";
        assert_eq!(jinja_calls(raw, "source"), vec![vec!["shop", "orders"]]);
        assert_eq!(jinja_calls(raw, "ref"), vec![vec!["stg_x"]]);
    }
}
