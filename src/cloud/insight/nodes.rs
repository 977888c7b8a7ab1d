//! What a run did, node by node: each dbt step's `run_results.json` (v6) joined with the run's
//! `manifest.json`, and the one-line summary people read first
//! (`12 models ok · 30 tests pass · 1 warn · 2 error · 5 skipped`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::budget::{self, heap, Budget, Skip, ENTRY_OVERHEAD};
use super::manifest::Manifest;

/// One node's result in one step. Fields in alphabetical order, as [`super::RunInsight`]'s.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeOutcome {
    /// Seconds.
    pub execution_time: f64,
    /// dbt's message, kept for anything that is not ok.
    pub message: Option<String>,
    pub name: String,
    /// `model`, `test`, `seed`, `snapshot`, `source` (freshness), …
    pub resource_type: String,
    /// Where the adapter reports it (`adapter_response.rows_affected`; -1 means unknown).
    pub rows_affected: Option<i64>,
    /// dbt's status: `success`, `error`, `fail`, `warn`, `pass`, `skipped`, `runtime error`, …
    pub status: String,
    pub unique_id: String,
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
    adapter_response: RowsAffected,
}

/// `adapter_response.rows_affected` and nothing else of the adapter's answer (whatever its
/// shape: a number is kept, anything else is skipped).
#[derive(Debug, Default)]
struct RowsAffected(Option<i64>);

impl<'de> Deserialize<'de> for RowsAffected {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Response;
        impl<'de> Visitor<'de> for Response {
            type Value = RowsAffected;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an adapter response")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowsAffected, A::Error> {
                let mut rows = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "rows_affected" {
                        rows = map.next_value::<IgnoredOrInt>()?.0.filter(|n| *n >= 0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RowsAffected(rows))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RowsAffected, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RowsAffected(None))
            }
            fn visit_unit<E>(self) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
            fn visit_none<E>(self) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<RowsAffected, E> {
                Ok(RowsAffected(None))
            }
        }
        d.deserialize_any(Response)
    }
}

/// A whole number where there is one; anything else is skipped.
struct IgnoredOrInt(Option<i64>);

impl<'de> Deserialize<'de> for IgnoredOrInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Int;
        impl<'de> Visitor<'de> for Int {
            type Value = IgnoredOrInt;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of rows")
            }
            fn visit_i64<E>(self, n: i64) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(Some(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(i64::try_from(n).ok()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(None))
            }
            fn visit_unit<E>(self) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(None))
            }
            fn visit_none<E>(self) -> Result<IgnoredOrInt, E> {
                Ok(IgnoredOrInt(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IgnoredOrInt, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IgnoredOrInt(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IgnoredOrInt, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IgnoredOrInt(None))
            }
        }
        d.deserialize_any(Int)
    }
}

impl NodeOutcome {
    fn of(r: RawResult, manifest: &Manifest) -> NodeOutcome {
        let unique_id = r.unique_id.unwrap_or_else(|| "(unknown node)".into());
        let status = r.status.unwrap_or_else(|| "unknown".into());
        let ok = matches!(status.as_str(), "success" | "pass");
        NodeOutcome {
            resource_type: manifest.resource_type(&unique_id),
            name: manifest.display_name(&unique_id),
            execution_time: r.execution_time.unwrap_or(0.0),
            rows_affected: r.adapter_response.0,
            message: r
                .message
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty() && !ok),
            status,
            unique_id,
        }
    }

    /// The memory this outcome holds, for the summary's cap: the struct in its vector, each
    /// string's allocation, and its share of the summary's index (latest result per node).
    fn cost(&self) -> usize {
        std::mem::size_of::<NodeOutcome>()
            + ENTRY_OVERHEAD
            + heap(&self.unique_id)
            + heap(&self.resource_type)
            + heap(&self.name)
            + heap(&self.status)
            + self.message.as_deref().map_or(0, heap)
    }
}

/// The nodes of one `run_results.json`, named through `manifest` where it has them.
pub fn from_run_results(
    run_results: &[u8],
    manifest: Option<&Manifest>,
) -> Result<Vec<NodeOutcome>, serde_json::Error> {
    read_run_results(run_results, manifest, &Budget::new(usize::MAX))
}

/// The nodes of a `run_results.json` read from `reader` as it arrives, keeping only what the
/// summary shows. Under `budget`: at its cap the reading stops and the nodes read so far are
/// returned (the budget says it was cut).
pub fn read_run_results(
    reader: impl Read,
    manifest: Option<&Manifest>,
    budget: &Budget,
) -> Result<Vec<NodeOutcome>, serde_json::Error> {
    let empty = Manifest::default();
    let mut nodes = Vec::new();
    budget.start();
    let mut de = serde_json::Deserializer::from_reader(BufReader::new(budget.reader(reader)));
    let read = TopLevel {
        nodes: &mut nodes,
        manifest: manifest.unwrap_or(&empty),
        budget,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    budget::finish(read, budget, nodes)
}

/// `{"results": [...], ...}`: the results read, everything else skipped.
struct TopLevel<'a> {
    nodes: &'a mut Vec<NodeOutcome>,
    manifest: &'a Manifest,
    budget: &'a Budget,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a run_results.json object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "results" {
                map.next_value_seed(Results {
                    nodes: &mut *self.nodes,
                    manifest: self.manifest,
                    budget: self.budget,
                })?;
            } else {
                map.next_value_seed(Skip(self.budget))?;
            }
            if !self.budget.keep(0) {
                return Err(self.budget.stop());
            }
        }
        Ok(())
    }
}

/// The `results` array, one node at a time, each counted against the budget.
struct Results<'a> {
    nodes: &'a mut Vec<NodeOutcome>,
    manifest: &'a Manifest,
    budget: &'a Budget,
}

impl<'de> DeserializeSeed<'de> for Results<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Results<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of results")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<RawResult>()? {
            let node = NodeOutcome::of(raw, self.manifest);
            // The node that would pass the cap is not kept.
            if !self.budget.keep(node.cost()) {
                return Err(self.budget.stop());
            }
            self.nodes.push(node);
        }
        Ok(())
    }
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
pub fn skipped_downstream<'a>(
    nodes: impl IntoIterator<Item = &'a NodeOutcome> + Clone,
    manifest: &Manifest,
) -> Vec<String> {
    let skipped: BTreeSet<&str> = nodes
        .clone()
        .into_iter()
        .filter(|n| n.status == "skipped")
        .map(|n| n.unique_id.as_str())
        .collect();
    let mut seen: BTreeSet<&str> = nodes
        .into_iter()
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

    /// `head`, then `item` again and again: an artifact that never ends.
    struct Endless {
        bytes: Vec<u8>,
        at: usize,
        repeat_from: usize,
    }

    impl Endless {
        fn new(head: &str, item: &str) -> Self {
            Endless {
                bytes: format!("{head}{item}").into_bytes(),
                at: 0,
                repeat_from: head.len(),
            }
        }
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.bytes.len() {
                self.at = self.repeat_from;
            }
            let n = buf.len().min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    #[test]
    fn endless_results_are_cut_at_the_cap_keeping_what_came_before() {
        let budget = Budget::new(1 << 20);
        let endless = Endless::new(
            r#"{"metadata": {"dbt_version": "1.9"}, "results": ["#,
            r#"{"unique_id": "model.p.m", "status": "success", "execution_time": 0.1,
                "message": "OK", "adapter_response": {"rows_affected": 3, "code": "x"}},"#,
        );
        let nodes = read_run_results(endless, None, &budget).expect("cut, not an error");
        assert!(budget.is_cut());
        let kept: usize = nodes.iter().map(NodeOutcome::cost).sum();
        assert!(kept <= 1 << 20, "{kept}");
        assert!(nodes.len() > 1000, "{}", nodes.len());
        assert_eq!(nodes[0].rows_affected, Some(3));
    }

    #[test]
    fn an_endless_message_is_cut_without_holding_it() {
        let budget = Budget::new(1 << 20);
        let endless = Endless::new(
            r#"{"results": [{"unique_id": "model.p.ok", "status": "success"}, {"unique_id": "model.p.m", "status": "error", "message": ""#,
            "x",
        );
        let nodes = read_run_results(endless, None, &budget).expect("cut, not an error");
        assert!(budget.is_cut());
        assert_eq!(nodes.len(), 1, "the node read before the cap stays");
    }

    #[test]
    fn an_attempt_that_breaks_off_gives_back_what_it_kept() {
        let body = br#"{"results": [{"unique_id": "model.p.a", "status": "success"},
                                    {"unique_id": "model.p.b", "status": "success"}]}"#;
        // Broken off after the first node.
        let broken = || std::io::Read::chain(&body[..70], BrokenPipe);
        let whole = read_run_results(&body[..], None, &Budget::new(4096)).expect("whole");
        let once: usize = whole.iter().map(NodeOutcome::cost).sum();
        assert!(
            whole[0].cost() > 200,
            "without the give-back the second reading passes"
        );
        // A cap the whole body fits once, not with the broken attempt's node counted too.
        let budget = Budget::new(once + 200);
        let first = budget.attempt(|| read_run_results(broken(), None, &budget));
        assert!(first.is_err());
        let again = budget.attempt(|| read_run_results(&body[..], None, &budget));
        assert_eq!(again.expect("the broken attempt kept nothing").len(), 2);
        assert!(!budget.is_cut());
    }

    /// A reader whose connection broke.
    struct BrokenPipe;

    impl std::io::Read for BrokenPipe {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::ConnectionReset.into())
        }
    }

    #[test]
    fn a_broken_artifact_is_an_error_not_a_cut() {
        let budget = Budget::new(1 << 20);
        let err = read_run_results(&br#"{"results": [{"unique_id": 1"#[..], None, &budget);
        assert!(err.is_err());
        assert!(!budget.is_cut());
        let odd = br#"{"results": [{"unique_id": "m", "status": "success",
            "adapter_response": {"rows_affected": "many"}}], "args": [1, {"a": null}]}"#;
        let nodes = from_run_results(odd, None).unwrap();
        assert_eq!(nodes[0].rows_affected, None);
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
