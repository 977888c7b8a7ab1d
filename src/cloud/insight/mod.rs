//! Run insight: what a finished run did, from its artifacts — nodes and their results per dbt
//! step, the summary line, what a failure skipped downstream, lineage and source freshness.
//!
//! Parsing is pure (`manifest`, `nodes`, `lineage`, `freshness`); `store` fetches artifacts
//! once per run and step and keeps them under `.datachonk/runs/`.

pub mod budget;
pub mod freshness;
pub mod lineage;
pub mod manifest;
pub mod nodes;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::client::Client;
use super::errors::ApiError;
use super::types::Run;
use budget::{Budget, SUMMARY_MEMORY_CAP};
use manifest::Manifest;
use nodes::{NodeOutcome, Summary};
pub use store::ArtifactStore;

/// One dbt step's nodes, or why they are not known (fields in alphabetical order, as
/// [`RunInsight`]'s).
#[derive(Debug, Clone, Serialize)]
pub struct StepNodes {
    pub index: i64,
    pub name: String,
    pub nodes: Vec<NodeOutcome>,
    /// Set when the step's `run_results.json` could not be had (not written: a failed
    /// `dbt deps`, a command that writes none; or unreadable).
    pub unavailable: Option<String>,
}

/// What a run did, node by node. Fields in alphabetical order: serialized straight (a
/// verdict's `--json` document streams it), the keys come out as a `serde_json::Value`'s do.
#[derive(Debug, Clone, Serialize)]
pub struct RunInsight {
    /// The artifacts held more than the summary keeps (see [`SUMMARY_MEMORY_CAP`]): the nodes
    /// are the ones read before the cap. The run's verdict does not depend on it.
    pub cut: bool,
    /// Why there is nothing to show (a run still in progress), or that the summary was cut
    /// at its memory cap, when either.
    pub note: Option<String>,
    pub run_id: i64,
    /// Skipped because something upstream failed (unique ids, nearest first).
    pub skipped_downstream: Vec<String>,
    pub steps: Vec<StepNodes>,
    pub summary: Summary,
    /// `12 models ok · …`.
    pub summary_line: String,
}

impl RunInsight {
    pub fn nodes(&self) -> impl Iterator<Item = &NodeOutcome> {
        self.steps.iter().flat_map(|s| s.nodes.iter())
    }

    /// Nodes whose last result failed (each once, even when run in two steps).
    pub fn failed_nodes(&self) -> impl Iterator<Item = &NodeOutcome> {
        self.latest_nodes().into_iter().filter(|n| n.failed())
    }

    /// Each node once, with its last result: a seed seeded in two steps, a model run by
    /// `dbt run` then `dbt build`, count once. In the order first seen.
    pub fn latest_nodes(&self) -> Vec<&NodeOutcome> {
        latest(self.nodes())
    }
}

/// Each unique id once, its last outcome, in the order ids were first seen.
fn latest<'a>(nodes: impl Iterator<Item = &'a NodeOutcome>) -> Vec<&'a NodeOutcome> {
    let mut order: Vec<&str> = Vec::new();
    let mut last: BTreeMap<&str, &NodeOutcome> = BTreeMap::new();
    for n in nodes {
        if last.insert(n.unique_id.as_str(), n).is_none() {
            order.push(n.unique_id.as_str());
        }
    }
    order
        .into_iter()
        .filter_map(|id| last.get(id).copied())
        .collect()
}

/// The note of a summary cut at its memory cap.
pub fn cut_note(cap: usize) -> String {
    let size = if cap >= 1 << 20 {
        format!("{} MiB", cap >> 20)
    } else {
        format!("{} KiB", cap >> 10)
    };
    format!(
        "node summary cut at {size}: the artifacts hold more than it keeps (the verdict is the run's status)"
    )
}

/// Steps that invoke dbt and may write `run_results.json` (clone, profile and `dbt deps` do not).
pub fn dbt_steps(run: &Run) -> Vec<(i64, String)> {
    run.steps()
        .iter()
        .filter_map(|s| Some((s.index?, s.name.clone().unwrap_or_default())))
        .filter(|(_, name)| name.starts_with("Invoke dbt with") && !name.contains("dbt deps"))
        .collect()
}

/// Gather the nodes of `run` (fetched with `include_related=run_steps`). API failures other
/// than a missing artifact are errors; a missing artifact is reported per step.
pub async fn gather(
    client: &Client,
    store: &ArtifactStore,
    run: &Run,
) -> Result<RunInsight, ApiError> {
    gather_within(client, store, run, SUMMARY_MEMORY_CAP).await
}

/// [`gather`] with the summary's memory cap `cap` (bytes).
pub async fn gather_within(
    client: &Client,
    store: &ArtifactStore,
    run: &Run,
    cap: usize,
) -> Result<RunInsight, ApiError> {
    let mut insight = RunInsight {
        run_id: run.id,
        steps: Vec::new(),
        summary: Summary::default(),
        summary_line: String::new(),
        skipped_downstream: Vec::new(),
        note: None,
        cut: false,
    };
    if !run.run_status().is_terminal() {
        insight.note = Some(format!(
            "run {} is still {}: its nodes are known once it finishes",
            run.id,
            run.run_status().label()
        ));
        insight.summary_line = "in progress".into();
        return Ok(insight);
    }
    // The steps' results and the manifest have a cap each: a big project's manifest must not
    // leave the results (what failed, the summary's point) unread. At most twice `cap` in all.
    let budget = Budget::new(cap);
    let manifest_budget = Budget::new(cap);
    let steps = dbt_steps(run);
    // One manifest names every node: the last dbt step's (it saw the whole project). Read as
    // it arrives, only names, types and the child map kept.
    let mut manifest = None;
    for (index, _) in steps.iter().rev() {
        let b = manifest_budget.clone();
        let read = move |r: &mut dyn std::io::Read| b.attempt(|| Manifest::read(r, &b));
        if let Some(parsed) = store
            .read(client, run, Some(*index), "manifest.json", read)
            .await?
        {
            manifest = parsed.ok().map(Arc::new);
            break;
        }
    }
    for (index, name) in steps {
        let mut step = StepNodes {
            index,
            name,
            nodes: Vec::new(),
            unavailable: None,
        };
        if budget.is_cut() {
            step.unavailable = Some("not read: the node summary was cut".into());
            insight.steps.push(step);
            continue;
        }
        let (b, m) = (budget.clone(), manifest.clone());
        let read = move |r: &mut dyn std::io::Read| {
            b.attempt(|| nodes::read_run_results(r, m.as_deref(), &b))
        };
        match store
            .read(client, run, Some(index), "run_results.json", read)
            .await?
        {
            Some(Ok(n)) => step.nodes = n,
            Some(Err(e)) => step.unavailable = Some(format!("run_results.json is unreadable: {e}")),
            None => step.unavailable = Some("this step wrote no run_results.json".into()),
        }
        insight.steps.push(step);
    }
    if insight.steps.is_empty() {
        insight.note = Some("the run has no dbt steps with results".into());
    }
    // A cut manifest names only the nodes it got to and may miss what failures skipped: the
    // summary says it is cut (and a node-selected retry is refused), its results stay whole.
    if budget.is_cut() || manifest_budget.is_cut() {
        insight.cut = true;
        insight.note = Some(cut_note(cap));
    }
    // References, not copies: the nodes are already counted against the cap.
    let latest = insight.latest_nodes();
    let summary = Summary::of(latest.iter().copied());
    let skipped = manifest
        .as_ref()
        .map(|m| nodes::skipped_downstream(latest.iter().copied(), m))
        .unwrap_or_default();
    drop(latest);
    insight.summary = summary;
    insight.skipped_downstream = skipped;
    insight.summary_line = insight.summary.line();
    if insight.cut {
        // Every face that shows the line (verdicts, JSON, CI summaries, serve) says so.
        insight.summary_line = format!(
            "{} (node summary cut at {} MiB)",
            insight.summary_line,
            cap >> 20
        );
    }
    Ok(insight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_in_two_steps_counts_once_with_its_last_result() {
        let seeds = br#"{"results": [{"unique_id": "seed.p.a", "status": "success"},
                                       {"unique_id": "seed.p.b", "status": "success"}]}"#;
        let build = br#"{"results": [{"unique_id": "seed.p.a", "status": "success"},
                                       {"unique_id": "seed.p.b", "status": "success"},
                                       {"unique_id": "model.p.m", "status": "error"}]}"#;
        let step = |index, json: &[u8]| StepNodes {
            index,
            name: format!("step {index}"),
            nodes: nodes::from_run_results(json, None).unwrap(),
            unavailable: None,
        };
        let insight = RunInsight {
            run_id: 1,
            steps: vec![step(4, seeds), step(5, build)],
            summary: Summary::default(),
            summary_line: String::new(),
            skipped_downstream: Vec::new(),
            note: None,
            cut: false,
        };
        // Streamed straight (a verdict's --json), the keys come out as a Value writes them.
        let streamed = serde_json::to_string_pretty(&insight).unwrap();
        let value = serde_json::to_value(&insight).unwrap();
        assert_eq!(streamed, serde_json::to_string_pretty(&value).unwrap());
        assert!(streamed.contains("\"message\""), "{streamed}");
        let latest = insight.latest_nodes();
        assert_eq!(latest.len(), 3);
        assert_eq!(insight.failed_nodes().count(), 1);
        assert_eq!(Summary::of(latest).line(), "2 seeds ok · 1 error");
    }
}
