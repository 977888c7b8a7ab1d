//! Explaining a failed run: the failing step, the failing nodes from `run_results.json`, and
//! the tail of the step's log.

use serde::{Deserialize, Serialize};

use super::client::Client;
use super::types::{Run, RunStatus, RunStep};

/// A dbt node that did not succeed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailingNode {
    pub unique_id: String,
    /// dbt's result status: `error`, `fail`, `runtime error`.
    pub status: String,
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RunResults {
    #[serde(default)]
    results: Vec<NodeResult>,
}

#[derive(Debug, Deserialize)]
struct NodeResult {
    unique_id: Option<String>,
    status: Option<String>,
    message: Option<String>,
}

/// The nodes of a `run_results.json` whose status is a failure.
pub fn failing_nodes(run_results: &[u8]) -> Result<Vec<FailingNode>, serde_json::Error> {
    let parsed: RunResults = serde_json::from_slice(run_results)?;
    Ok(parsed
        .results
        .into_iter()
        .filter(|r| {
            matches!(
                r.status.as_deref(),
                Some("error" | "fail" | "runtime error")
            )
        })
        .map(|r| FailingNode {
            unique_id: r.unique_id.unwrap_or_else(|| "(unknown node)".into()),
            status: r.status.unwrap_or_default(),
            message: r
                .message
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty()),
        })
        .collect())
}

/// The step that failed: the first with status Error, else the last step.
pub fn failing_step(run: &Run) -> Option<&RunStep> {
    let steps = run.steps();
    steps
        .iter()
        .find(|s| s.run_status() == RunStatus::Error)
        .or(steps.last())
}

/// The last `n` non-empty lines of a step's log.
pub fn log_tail(step: &RunStep, n: usize) -> Vec<String> {
    let logs = step
        .logs
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .or(step.truncated_debug_logs.as_deref())
        .unwrap_or_default();
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// What went wrong in an errored run, as far as the API can tell.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FailureReport {
    pub step_index: Option<i64>,
    pub step_name: Option<String>,
    pub nodes: Vec<FailingNode>,
    pub log_tail: Vec<String>,
    /// Why the nodes could not be listed, if they could not.
    pub nodes_unavailable: Option<String>,
}

/// Fetch `run_results.json` of the failing step and assemble the report.
pub async fn explain(client: &Client, run: &Run) -> FailureReport {
    let mut report = FailureReport::default();
    let step = failing_step(run);
    if let Some(step) = step {
        report.step_index = step.index;
        report.step_name = step.name.clone();
        report.log_tail = log_tail(step, 20);
    }
    match client
        .get_artifact(run.id, "run_results.json", step.and_then(|s| s.index))
        .await
    {
        Ok(bytes) => match failing_nodes(&bytes) {
            Ok(nodes) => report.nodes = nodes,
            Err(e) => {
                report.nodes_unavailable = Some(format!("run_results.json could not be read: {e}"))
            }
        },
        Err(e) => {
            report.nodes_unavailable = Some(format!("run_results.json is not available: {e}"))
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_nodes_are_the_errors_and_failures() {
        let json = br#"{"results": [
            {"unique_id": "model.p.ok", "status": "success", "message": "OK"},
            {"unique_id": "model.p.bad", "status": "error", "message": " Database Error\n  column x "},
            {"unique_id": "test.p.nn", "status": "fail", "message": "Got 3 results"},
            {"unique_id": "model.p.skipped", "status": "skipped", "message": null}
        ]}"#;
        let nodes = failing_nodes(json).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].unique_id, "model.p.bad");
        assert_eq!(
            nodes[0].message.as_deref(),
            Some("Database Error\n  column x")
        );
        assert_eq!(nodes[1].status, "fail");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let step = RunStep {
            logs: Some("a\n\nb\nc\nd\n".into()),
            ..RunStep::default()
        };
        assert_eq!(log_tail(&step, 2), vec!["c", "d"]);
    }
}
