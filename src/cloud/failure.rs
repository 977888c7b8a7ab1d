//! Explaining a failed run: the failing step, the failing nodes from `run_results.json`, and
//! the tail of the step's log.

use serde::Serialize;

use super::insight::nodes::NodeOutcome;
use super::insight::RunInsight;
use super::types::{Run, RunStatus, RunStep};

/// A dbt node that did not succeed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FailingNode {
    pub unique_id: String,
    /// dbt's result status: `error`, `fail`, `runtime error`.
    pub status: String,
    pub message: Option<String>,
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

/// Assemble the report of an errored run from what it did (`insight`, gathered from its
/// artifacts; `Err` says why it could not be): the failing step's failed nodes, else every
/// failed node of the run.
pub fn explain(run: &Run, insight: Result<&RunInsight, &str>) -> FailureReport {
    let mut report = FailureReport::default();
    let step = failing_step(run);
    if let Some(step) = step {
        report.step_index = step.index;
        report.step_name = step.name.clone();
        report.log_tail = log_tail(step, 20);
    }
    let insight = match insight {
        Ok(i) => i,
        Err(why) => {
            report.nodes_unavailable = Some(format!("run_results.json is not available: {why}"));
            return report;
        }
    };
    let of_step = step
        .and_then(|s| s.index)
        .and_then(|index| insight.steps.iter().find(|s| s.index == index));
    let failing = |nodes: &mut dyn Iterator<Item = &NodeOutcome>| -> Vec<FailingNode> {
        nodes
            .filter(|n| n.failed())
            .map(|n| FailingNode {
                unique_id: n.unique_id.clone(),
                status: n.status.clone(),
                message: n.message.clone(),
            })
            .collect()
    };
    match of_step {
        Some(s) => {
            report.nodes = failing(&mut s.nodes.iter());
            if let Some(why) = &s.unavailable {
                report.nodes_unavailable = Some(why.clone());
            }
        }
        None => {
            report.nodes = failing(&mut insight.nodes());
            if report.nodes.is_empty() {
                report.nodes_unavailable = insight
                    .note
                    .clone()
                    .or_else(|| Some("the failing step wrote no run_results.json".into()));
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_nodes_are_the_failing_steps_errors_and_failures() {
        use crate::cloud::insight::{nodes, StepNodes};
        let json = br#"{"results": [
            {"unique_id": "model.p.ok", "status": "success", "message": "OK"},
            {"unique_id": "model.p.bad", "status": "error", "message": " Database Error\n  column x "},
            {"unique_id": "test.p.nn", "status": "fail", "message": "Got 3 results"},
            {"unique_id": "model.p.skipped", "status": "skipped", "message": null}
        ]}"#;
        let insight = RunInsight {
            run_id: 1,
            steps: vec![StepNodes {
                index: 4,
                name: "Invoke dbt with `dbt build`".into(),
                nodes: nodes::from_run_results(json, None).unwrap(),
                unavailable: None,
            }],
            summary: Default::default(),
            summary_line: String::new(),
            skipped_downstream: Vec::new(),
            note: None,
            cut: false,
        };
        let run = Run {
            id: 1,
            run_steps: Some(vec![RunStep {
                index: Some(4),
                status: Some(20),
                ..RunStep::default()
            }]),
            ..Run::default()
        };
        let report = explain(&run, Ok(&insight));
        let nodes = report.nodes;
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].unique_id, "model.p.bad");
        assert_eq!(
            nodes[0].message.as_deref(),
            Some("Database Error\n  column x")
        );
        assert_eq!(nodes[1].status, "fail");
        let report = explain(&run, Err("HTTP 404"));
        assert!(report.nodes.is_empty());
        assert!(report.nodes_unavailable.unwrap().contains("HTTP 404"));
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
