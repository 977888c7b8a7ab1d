//! What a run did, node by node: each dbt step's `run_results.json` (v6) joined with the run's
//! `manifest.json`, and the one-line summary people read first
//! (`12 models ok · 30 tests pass · 1 warn · 2 error · 5 skipped`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::manifest::Manifest;

/// One node's result in one step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeOutcome {
    pub unique_id: String,
    /// `model`, `test`, `seed`, `snapshot`, `source` (freshness), …
    pub resource_type: String,
    pub name: String,
    /// dbt's status: `success`, `error`, `fail`, `warn`, `pass`, `skipped`, `runtime error`, …
    pub status: String,
    /// Seconds.
    pub execution_time: f64,
    /// Where the adapter reports it (`adapter_response.rows_affected`; -1 means unknown).
    pub rows_affected: Option<i64>,
    /// dbt's message, kept for anything that is not ok.
    pub message: Option<String>,
}

impl NodeOutcome {
    /// An error, a failed test or a runtime error: what a retry must run again.
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "error" | "fail" | "runtime error")
    }

    pub fn ok(&self) -> bool {
        matches!(self.status.as_str(), "success" | "pass")
    }
}

#[derive(Debug, Deserialize)]
struct RunResults {
    #[serde(default)]
    results: Vec<RawResult>,
}

#[derive(Debug, Deserialize)]
struct RawResult {
    #[serde(default)]
    unique_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    execution_time: Option<f64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    adapter_response: Option<serde_json::Value>,
}

/// The nodes of one `run_results.json`, named through `manifest` where it has them.
pub fn from_run_results(
    run_results: &[u8],
    manifest: Option<&Manifest>,
) -> Result<Vec<NodeOutcome>, serde_json::Error> {
    let parsed: RunResults = serde_json::from_slice(run_results)?;
    let empty = Manifest::default();
    let manifest = manifest.unwrap_or(&empty);
    Ok(parsed
        .results
        .into_iter()
        .map(|r| {
            let unique_id = r.unique_id.unwrap_or_else(|| "(unknown node)".into());
            let status = r.status.unwrap_or_else(|| "unknown".into());
            let rows_affected = r
                .adapter_response
                .as_ref()
                .and_then(|a| a.get("rows_affected"))
                .and_then(serde_json::Value::as_i64)
                .filter(|n| *n >= 0);
            let ok = matches!(status.as_str(), "success" | "pass");
            NodeOutcome {
                resource_type: manifest.resource_type(&unique_id),
                name: manifest.display_name(&unique_id),
                execution_time: r.execution_time.unwrap_or(0.0),
                rows_affected,
                message: r
                    .message
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty() && !ok),
                status,
                unique_id,
            }
        })
        .collect())
}

/// Counts of a run's nodes by type and status, in the order a person reads them.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    /// `(resource_type, status) → count`.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Summary {
    pub fn of<'a>(nodes: impl IntoIterator<Item = &'a NodeOutcome>) -> Summary {
        let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for n in nodes {
            *counts
                .entry(n.resource_type.clone())
                .or_default()
                .entry(n.status.clone())
                .or_default() += 1;
        }
        Summary { counts }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    fn total(&self, status: &str) -> usize {
        self.counts.values().filter_map(|m| m.get(status)).sum()
    }

    /// `12 models ok · 30 tests pass · 1 warn · 2 error · 5 skipped`: successes per type,
    /// then every other status across types, worst last.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        for (kind, statuses) in &self.counts {
            if let Some(n) = statuses.get("success") {
                parts.push(format!("{n} {} ok", plural(kind, *n)));
            }
        }
        for (kind, statuses) in &self.counts {
            if let Some(n) = statuses.get("pass") {
                parts.push(format!("{n} {} pass", plural(kind, *n)));
            }
        }
        const ORDER: [&str; 5] = ["warn", "fail", "error", "runtime error", "skipped"];
        for status in ORDER {
            let n = self.total(status);
            if n > 0 {
                parts.push(format!("{n} {status}"));
            }
        }
        let known: BTreeSet<&str> = ["success", "pass"].into_iter().chain(ORDER).collect();
        let mut others: BTreeMap<&str, usize> = BTreeMap::new();
        for statuses in self.counts.values() {
            for (status, n) in statuses {
                if !known.contains(status.as_str()) {
                    *others.entry(status).or_default() += n;
                }
            }
        }
        parts.extend(others.into_iter().map(|(s, n)| format!("{n} {s}")));
        if parts.is_empty() {
            "no nodes ran".into()
        } else {
            parts.join(" · ")
        }
    }
}

/// `model` → `models`, `unit_test` → `unit tests`.
fn plural(kind: &str, n: usize) -> String {
    let word = kind.replace('_', " ");
    if n == 1 {
        word
    } else {
        format!("{word}s")
    }
}

/// Nodes downstream of the failures (through the manifest's `child_map`) that were skipped:
/// what the failure cost, in dependency order from the failures outwards.
pub fn skipped_downstream(nodes: &[NodeOutcome], manifest: &Manifest) -> Vec<String> {
    let skipped: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n.status == "skipped")
        .map(|n| n.unique_id.as_str())
        .collect();
    let mut seen: BTreeSet<&str> = nodes
        .iter()
        .filter(|n| n.failed())
        .map(|n| n.unique_id.as_str())
        .collect();
    let mut queue: VecDeque<&str> = seen.iter().copied().collect();
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        for child in manifest.child_map.get(id).into_iter().flatten() {
            if seen.insert(child.as_str()) {
                queue.push_back(child.as_str());
                if skipped.contains(child.as_str()) {
                    out.push(child.clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = br#"{
        "nodes": {
            "model.p.stg_a": {"resource_type": "model", "name": "stg_a"},
            "model.p.b": {"resource_type": "model", "name": "b"},
            "model.p.c": {"resource_type": "model", "name": "c"},
            "test.p.not_null_stg_a_id.1a": {"resource_type": "test", "name": "not_null_stg_a_id"}
        },
        "child_map": {"model.p.stg_a": ["model.p.b", "test.p.not_null_stg_a_id.1a"], "model.p.b": ["model.p.c"]}
    }"#;

    const RESULTS: &[u8] = br#"{"results": [
        {"unique_id": "model.p.stg_a", "status": "error", "execution_time": 0.5, "message": " Database Error ",
         "adapter_response": {}},
        {"unique_id": "model.p.b", "status": "skipped", "execution_time": 0, "message": null},
        {"unique_id": "model.p.c", "status": "skipped", "message": null},
        {"unique_id": "test.p.not_null_stg_a_id.1a", "status": "skipped", "message": null},
        {"unique_id": "model.p.ok", "status": "success", "execution_time": 1.25, "message": "OK",
         "adapter_response": {"rows_affected": 12}},
        {"unique_id": "test.p.unique_x.2b", "status": "pass", "message": null},
        {"unique_id": "test.p.warned.3c", "status": "warn", "message": "Got 2 results"}
    ]}"#;

    #[test]
    fn results_are_joined_with_the_manifest() {
        let m = Manifest::parse(MANIFEST).unwrap();
        let nodes = from_run_results(RESULTS, Some(&m)).unwrap();
        assert_eq!(nodes[0].name, "stg_a");
        assert_eq!(nodes[0].message.as_deref(), Some("Database Error"));
        assert!(nodes[0].failed());
        assert_eq!(nodes[4].rows_affected, Some(12));
        assert_eq!(nodes[4].message, None, "ok nodes carry no message");
        assert_eq!(
            nodes[5].name, "unique_x",
            "not in the manifest: named from its id"
        );
        assert_eq!(nodes[5].resource_type, "test");
    }

    #[test]
    fn the_summary_line_reads_successes_first_and_problems_last() {
        let m = Manifest::parse(MANIFEST).unwrap();
        let nodes = from_run_results(RESULTS, Some(&m)).unwrap();
        assert_eq!(
            Summary::of(&nodes).line(),
            "1 model ok · 1 test pass · 1 warn · 1 error · 3 skipped"
        );
        assert_eq!(Summary::of(&[]).line(), "no nodes ran");
    }

    #[test]
    fn skipped_downstream_follows_the_child_map_from_the_failures() {
        let m = Manifest::parse(MANIFEST).unwrap();
        let nodes = from_run_results(RESULTS, Some(&m)).unwrap();
        assert_eq!(
            skipped_downstream(&nodes, &m),
            ["model.p.b", "test.p.not_null_stg_a_id.1a", "model.p.c"]
        );
    }
}
