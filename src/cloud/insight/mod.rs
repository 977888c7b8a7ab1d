//! Run insight: what a finished run did, from its artifacts — nodes and their results per dbt
//! step, the summary line, what a failure skipped downstream, lineage and source freshness.
//!
//! Parsing is pure (`manifest`, `nodes`, `lineage`, `freshness`); `store` fetches artifacts
//! once per run and step and keeps them under `.datachonk/runs/`.

pub mod freshness;
pub mod lineage;
pub mod manifest;
pub mod nodes;
pub mod store;

use serde::Serialize;

use super::client::Client;
use super::errors::ApiError;
use super::types::Run;
use manifest::Manifest;
use nodes::{NodeOutcome, Summary};
pub use store::ArtifactStore;

/// One dbt step's nodes, or why they are not known.
#[derive(Debug, Clone, Serialize)]
pub struct StepNodes {
    pub index: i64,
    pub name: String,
    pub nodes: Vec<NodeOutcome>,
    /// Set when the step's `run_results.json` could not be had (not written: a failed
    /// `dbt deps`, a command that writes none; or unreadable).
    pub unavailable: Option<String>,
}

/// What a run did, node by node.
#[derive(Debug, Clone, Serialize)]
pub struct RunInsight {
    pub run_id: i64,
    pub steps: Vec<StepNodes>,
    pub summary: Summary,
    /// `12 models ok · …`.
    pub summary_line: String,
    /// Skipped because something upstream failed (unique ids, nearest first).
    pub skipped_downstream: Vec<String>,
    /// Why there is nothing to show (a run still in progress), when there is not.
    pub note: Option<String>,
}

impl RunInsight {
    pub fn nodes(&self) -> impl Iterator<Item = &NodeOutcome> {
        self.steps.iter().flat_map(|s| s.nodes.iter())
    }

    pub fn failed_nodes(&self) -> impl Iterator<Item = &NodeOutcome> {
        self.nodes().filter(|n| n.failed())
    }
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
    let mut insight = RunInsight {
        run_id: run.id,
        steps: Vec::new(),
        summary: Summary::default(),
        summary_line: String::new(),
        skipped_downstream: Vec::new(),
        note: None,
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
    let steps = dbt_steps(run);
    // One manifest names every node: the last dbt step's (it saw the whole project).
    let mut manifest = None;
    for (index, _) in steps.iter().rev() {
        if let Some(bytes) = store
            .get(client, run, Some(*index), "manifest.json")
            .await?
        {
            manifest = Manifest::parse(&bytes).ok();
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
        match store
            .get(client, run, Some(index), "run_results.json")
            .await?
        {
            Some(bytes) => match nodes::from_run_results(&bytes, manifest.as_ref()) {
                Ok(n) => step.nodes = n,
                Err(e) => step.unavailable = Some(format!("run_results.json is unreadable: {e}")),
            },
            None => step.unavailable = Some("this step wrote no run_results.json".into()),
        }
        insight.steps.push(step);
    }
    if insight.steps.is_empty() {
        insight.note = Some("the run has no dbt steps with results".into());
    }
    let all: Vec<NodeOutcome> = insight.nodes().cloned().collect();
    insight.summary = Summary::of(&all);
    insight.summary_line = insight.summary.line();
    if let Some(m) = &manifest {
        insight.skipped_downstream = nodes::skipped_downstream(&all, m);
    }
    Ok(insight)
}
