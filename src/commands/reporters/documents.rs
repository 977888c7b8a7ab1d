//! The `--json` documents of deploy verdicts (schema in `dbt-run --help` and the README), and
//! the one verdict line of several runs. A document's small fields are values; the nodes it
//! carries are written straight from the run's summary (see [`Large`]), in the same bytes.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::cloud::failure::FailureReport;
use crate::cloud::insight::RunInsight;
use crate::cloud::verdict::Finished;
use crate::cloud::{Run, RunStatus};
use crate::deploy::{Attempt, Ending, ManyVerdict, Outcome, Unit, UnitEnd, Verdict};
use crate::error::Exit;
use crate::ui::{Object, Ui};

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

/// A verdict document's large fields, serialized from where they live (never copied into a
/// `Value`: with a node summary near its cap that would be hundreds of MiB).
#[derive(Debug, Clone)]
pub enum Large<'a> {
    Nodes(&'a RunInsight),
    Ids(&'a [String]),
    Documents(Vec<Document<'a>>),
}

impl Serialize for Large<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Large::Nodes(insight) => insight.serialize(serializer),
            Large::Ids(ids) => ids.serialize(serializer),
            Large::Documents(docs) => docs.serialize(serializer),
        }
    }
}

/// A verdict's `--json` document, written with [`Ui::json_object`].
pub type Document<'a> = Object<Large<'a>>;

/// A finished run: the verdict, its nodes and summary.
pub fn finished_json<'a>(done: &'a Run, finished: &'a Finished) -> Document<'a> {
    let outcome = match done.run_status() {
        RunStatus::Success => "success",
        RunStatus::Error => "error",
        _ => "cancelled",
    };
    let mut report = Document::of(run_json(outcome, done, finished.failure.as_ref(), false));
    if let Some(i) = &finished.insight {
        report.set("summary", json!(i.summary_line));
        report.set_large("nodes", Large::Nodes(i));
        if done.run_status() == RunStatus::Error {
            report.set_large("skipped_downstream", Large::Ids(&i.skipped_downstream));
        }
    }
    if let Some(why) = &finished.insight_error {
        report.set("nodes_unavailable", json!(why));
    }
    if done.run_status() == RunStatus::Error {
        report.set("retry_command", json!(retry_command(done)));
    }
    report
}

/// How one run ended.
pub fn ending_json(ending: &Ending) -> Document<'_> {
    match ending {
        Ending::Triggered(run) => Document::of(run_json("triggered", run, None, false)),
        Ending::Finished { run, finished } => finished_json(run, finished),
        Ending::TimedOut { run, cancelled } => {
            Document::of(run_json("timeout", run, None, *cancelled))
        }
        Ending::Interrupted { run, cancelled } => {
            Document::of(run_json("interrupted", run, None, *cancelled))
        }
    }
}

fn attempt_json(attempt: &Attempt) -> Document<'_> {
    let mut report = ending_json(&attempt.ending);
    if let Some(r) = &attempt.retry {
        report.set(
            "retry",
            json!({ "plan": r.plan, "run_id": r.run_id, "adopted": r.adopted }),
        );
    }
    if let Some(why) = &attempt.not_retried {
        report.set("not_retried", json!(why));
    }
    report
}

/// A followed run: the last attempt's document, listing every attempt (a run triggered and
/// not awaited has no attempts).
pub fn verdict_json(verdict: &Verdict) -> Document<'_> {
    if let Ending::Triggered(run) = &verdict.last().ending {
        return Document::of(run_json("triggered", run, None, false));
    }
    // The last attempt is written twice (at the top and in the list), built twice from the
    // same borrowed nodes rather than copied.
    let attempts: Vec<Document<'_>> = verdict.attempts.iter().map(attempt_json).collect();
    let mut report = attempt_json(verdict.last());
    report.set_large("attempts", Large::Documents(attempts));
    report
}

fn labelled<'a>(mut report: Document<'a>, unit: &Unit) -> Document<'a> {
    report.set("label", json!(unit.label));
    report.set("target", json!(unit.target));
    report
}

/// One of several units' document.
fn unit_json<'a>(unit: &Unit, end: &'a UnitEnd) -> Document<'a> {
    match end {
        UnitEnd::Ended(e) => labelled(ending_json(e), unit),
        UnitEnd::Followed(v) => labelled(verdict_json(v), unit),
        UnitEnd::NotTriggered => Document::of(
            json!({ "outcome": "not_triggered", "label": unit.label, "target": unit.target, "job_id": unit.plan.job_id }),
        ),
    }
}

/// The document of several runs: `outcome` and every run's document.
pub fn runs_json<'a>(outcome: &str, runs: Vec<Document<'a>>) -> Document<'a> {
    let mut report = Document::of(json!({ "outcome": outcome }));
    report.set_large("runs", Large::Documents(runs));
    report
}

/// The one verdict of several runs (the worst, or the stop signal's), its line or `--json`
/// document, and its exit status. Runs triggered and not awaited have no verdict: their
/// document says `triggered`.
pub fn report_many(ui: &Ui, verdict: &ManyVerdict<'_>) -> Exit {
    let runs: Vec<Document<'_>> = verdict
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
            ui.json_object(runs_json("triggered", runs));
        }
        return Exit::Success;
    }
    let worst = verdict.outcome();
    if ui.is_json() {
        ui.json_object(runs_json(worst.word(), runs));
    } else {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &runs {
            *counts
                .entry(
                    r.get("outcome")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown"),
                )
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
