//! The `--json` documents of deploy verdicts (schema in `dbt-run --help` and the README), and
//! the one verdict line of several runs.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::cloud::failure::FailureReport;
use crate::cloud::verdict::Finished;
use crate::cloud::{Run, RunStatus};
use crate::deploy::{Attempt, Ending, ManyVerdict, Outcome, Unit, UnitEnd, Verdict};
use crate::error::Exit;
use crate::ui::Ui;

use super::verdict_lines::retry_command;
use crate::commands::error::exit_of;

/// The document of one run in a given state.
pub fn run_json(
    outcome: &str,
    run: &Run,
    failure: Option<&FailureReport>,
    cancelled_by_us: bool,
) -> Value {
    let steps: Vec<Value> = run
        .steps()
        .iter()
        .map(|s| json!({ "index": s.index, "name": s.name, "status": s.run_status() }))
        .collect();
    json!({
        "outcome": outcome,
        "run": {
            "id": run.id,
            "status": run.status,
            "status_humanized": run.status_humanized.clone().unwrap_or_else(|| run.run_status().label().into()),
            "href": run.href,
            "job_id": run.job(),
            "git_sha": run.git_sha,
            "git_branch": run.git_branch,
            "duration_seconds": run.elapsed_seconds(),
            "steps": steps,
        },
        "failure": failure,
        "cancelled_by_datachonk": cancelled_by_us,
    })
}

/// A finished run: the verdict, its nodes and summary.
pub fn finished_json(done: &Run, finished: &Finished) -> Value {
    let outcome = match done.run_status() {
        RunStatus::Success => "success",
        RunStatus::Error => "error",
        _ => "cancelled",
    };
    let mut report = run_json(outcome, done, finished.failure.as_ref(), false);
    if let Some(i) = &finished.insight {
        report["summary"] = json!(i.summary_line);
        report["nodes"] = serde_json::to_value(i).unwrap_or(Value::Null);
        if done.run_status() == RunStatus::Error {
            report["skipped_downstream"] = json!(i.skipped_downstream);
        }
    }
    if let Some(why) = &finished.insight_error {
        report["nodes_unavailable"] = json!(why);
    }
    if done.run_status() == RunStatus::Error {
        report["retry_command"] = json!(retry_command(done));
    }
    report
}

/// How one run ended.
pub fn ending_json(ending: &Ending) -> Value {
    match ending {
        Ending::Triggered(run) => run_json("triggered", run, None, false),
        Ending::Finished { run, finished } => finished_json(run, finished),
        Ending::TimedOut { run, cancelled } => run_json("timeout", run, None, *cancelled),
        Ending::Interrupted { run, cancelled } => run_json("interrupted", run, None, *cancelled),
    }
}

fn attempt_json(attempt: &Attempt) -> Value {
    let mut report = ending_json(&attempt.ending);
    if let Some(r) = &attempt.retry {
        report["retry"] = json!({ "plan": r.plan, "run_id": r.run_id, "adopted": r.adopted });
    }
    if let Some(why) = &attempt.not_retried {
        report["not_retried"] = json!(why);
    }
    report
}

/// A followed run: the last attempt's document, listing every attempt (a run triggered and
/// not awaited has no attempts).
pub fn verdict_json(verdict: &Verdict) -> Value {
    if let Ending::Triggered(run) = &verdict.last().ending {
        return run_json("triggered", run, None, false);
    }
    let attempts: Vec<Value> = verdict.attempts.iter().map(attempt_json).collect();
    let mut report = attempts.last().cloned().unwrap_or(Value::Null);
    report["attempts"] = Value::Array(attempts);
    report
}

fn labelled(mut report: Value, unit: &Unit) -> Value {
    report["label"] = json!(unit.label);
    report["target"] = json!(unit.target);
    report
}

/// One of several units' document.
fn unit_json(unit: &Unit, end: &UnitEnd) -> Value {
    match end {
        UnitEnd::Ended(e) => labelled(ending_json(e), unit),
        UnitEnd::Followed(v) => labelled(verdict_json(v), unit),
        UnitEnd::NotTriggered => {
            json!({ "outcome": "not_triggered", "label": unit.label, "target": unit.target, "job_id": unit.plan.job_id })
        }
    }
}

/// The one verdict of several runs (the worst, or the stop signal's), its line or `--json`
/// document, and its exit status. Runs triggered and not awaited have no verdict: their
/// document says `triggered`.
pub fn report_many(ui: &Ui, verdict: &ManyVerdict<'_>) -> Exit {
    let runs: Vec<Value> = verdict
        .units
        .iter()
        .map(|(unit, end)| unit_json(unit, end))
        .collect();
    let only_triggered = verdict
        .units
        .iter()
        .all(|(_, e)| e.outcome() == Some(Outcome::Triggered));
    if only_triggered {
        if ui.is_json() {
            ui.json(&json!({ "outcome": "triggered", "runs": runs }));
        }
        return Exit::Success;
    }
    let worst = verdict.outcome();
    if ui.is_json() {
        ui.json(&json!({ "outcome": worst.word(), "runs": runs }));
    } else {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &runs {
            *counts
                .entry(r["outcome"].as_str().unwrap_or("unknown"))
                .or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        ui.out(format!(
            "{} runs: {} ({})",
            runs.len(),
            worst.word().to_ascii_uppercase(),
            counts.join(", ")
        ));
    }
    exit_of(worst)
}
