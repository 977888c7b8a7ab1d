//! A finished run's verdict as people read it: the outcome, the failing step and nodes, what
//! they skipped downstream, the log tail and the command that retries it.

use crate::cloud::failure::FailureReport;
use crate::cloud::verdict::{skipped_at_deadline, Finished, SKIPPED_AT_DEADLINE};
use crate::cloud::{Run, RunStatus};
use crate::ui::Ui;

/// The command that retries an errored run from its point of failure.
pub fn retry_command(run: &Run) -> String {
    format!("datachonk cloud runs retry {} --wait", run.id)
}

/// The verdict, the node summary line and, on Error, the failing nodes, what they skipped
/// downstream and (with `retry_hint`) the command that retries it (human output only). The
/// label follows the run's id for verdicts of several runs (`run 7 (dev, job 1) in 3s`).
pub fn print_finished(
    ui: &Ui,
    done: &Run,
    finished: &Finished,
    retry_hint: bool,
    label: Option<&str>,
) {
    if ui.is_json() {
        return;
    }
    print_verdict(ui, done, finished.failure.as_ref(), label);
    if skipped_at_deadline(finished) {
        ui.out(format!("  {SKIPPED_AT_DEADLINE}"));
    } else if let Some(why) = &finished.insight_error {
        ui.out(format!("  nodes: not available ({why})"));
    }
    if let Some(i) = &finished.insight {
        ui.out(format!("  nodes: {}", i.summary_line));
        if done.run_status() == RunStatus::Error && !i.skipped_downstream.is_empty() {
            let n = i.skipped_downstream.len();
            ui.out(format!("  skipped downstream of the failures ({n}):"));
            for id in &i.skipped_downstream {
                ui.out(format!("    {id}"));
            }
        }
    }
    if retry_hint && done.run_status() == RunStatus::Error {
        ui.out(format!("  retry it: {}", retry_command(done)));
    }
}

fn duration_text(run: &Run) -> String {
    run.elapsed_seconds()
        .map(seconds_text)
        .or_else(|| run.duration_humanized.clone())
        .unwrap_or_else(|| "?".into())
}

/// `0.4s`, `12s`, `3m 05s`, `1h 02m`.
pub fn seconds_text(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{s:.0}s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s as u64) % 60)
    } else {
        format!("{}h {:02}m", (s / 3600.0) as u64, ((s as u64) % 3600) / 60)
    }
}

fn print_verdict(ui: &Ui, run: &Run, failure: Option<&FailureReport>, label: Option<&str>) {
    let status = run.run_status();
    let word = match status {
        RunStatus::Success => ui.good("SUCCESS"),
        RunStatus::Error => ui.bad("ERROR"),
        _ => ui.warnish("CANCELLED"),
    };
    let label = label.map(|l| format!(" ({l})")).unwrap_or_default();
    ui.out(format!(
        "{word} run {}{label} in {}",
        run.id,
        duration_text(run)
    ));
    if let Some(href) = &run.href {
        ui.out(format!("  {href}"));
    }
    if let Some(msg) = run.status_message.as_deref().filter(|m| !m.is_empty()) {
        if status != RunStatus::Success {
            ui.out(format!("  {msg}"));
        }
    }
    if let Some(f) = failure {
        print_failure(ui, f);
    }
}

fn print_failure(ui: &Ui, f: &FailureReport) {
    if let Some(name) = &f.step_name {
        ui.out(format!(
            "  failing step {}: {name}",
            f.step_index.unwrap_or(0)
        ));
    }
    if !f.nodes.is_empty() {
        ui.out(format!("  failing nodes ({}):", f.nodes.len()));
        for node in &f.nodes {
            ui.out(format!(
                "    {} [{}]",
                ui.bold(&node.unique_id),
                node.status
            ));
            for line in node.message.as_deref().unwrap_or_default().lines() {
                ui.out(format!("      {line}"));
            }
        }
    } else if let Some(why) = &f.nodes_unavailable {
        ui.out(format!("  ({why})"));
    }
    if !f.log_tail.is_empty() {
        ui.out("  log tail:");
        for line in &f.log_tail {
            ui.out(format!("    | {line}"));
        }
    }
}
