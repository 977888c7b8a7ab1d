//! The terminal consumer of deploy events: one line per state change on stderr, verdicts on
//! stdout (only the `--json` document there under `--json`), and while nothing changes a
//! heartbeat line at most every 30 s, so a long step in a CI log never looks like a hang. On a
//! terminal the heartbeat is a live status line instead (see [`LiveLine`]), redrawn in place.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cloud::retries::RetryPlan;
use crate::cloud::{Run, RunStatus, RunStep};
use crate::deploy::{CancelProblem, Event, Reporter};
use crate::ui::Ui;

use super::live_line::LiveLine;
use super::verdict_lines::{print_finished, seconds_text};

/// Quiet time after which a heartbeat line says the run is still going.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Prints a deployment's events through `ui`.
pub struct Terminal<'a> {
    pub ui: &'a Ui,
    pulse: Mutex<Pulse>,
    /// Under GitLab CI: the runs whose wait is in an open log section.
    folded: Option<Mutex<Vec<i64>>>,
    /// On a terminal: the live status line, which replaces the heartbeat lines. Not with
    /// `--json` (a program reads us: plain lines only), `--quiet` (only the verdict) or
    /// `--verbose` (its request lines are written from below the reporter and would tear it).
    live: Option<LiveLine>,
}

/// What the heartbeat line says: when the last line was printed, and the run and step going.
struct Pulse {
    last_line: Instant,
    /// Run id → when it was first seen.
    runs: Vec<(i64, Instant)>,
    /// The step running: run id, index, name, since.
    step: Option<(i64, i64, String, Instant)>,
}

impl Pulse {
    /// Remember when run `id` was first seen (its total time counts from there).
    fn seen(&mut self, id: i64, now: Instant) {
        if !self.runs.iter().any(|(run, _)| *run == id) {
            self.runs.push((id, now));
        }
    }
}

impl<'a> Terminal<'a> {
    pub fn new(ui: &'a Ui) -> Self {
        Terminal {
            ui,
            pulse: Mutex::new(Pulse {
                last_line: Instant::now(),
                runs: Vec::new(),
                step: None,
            }),
            folded: super::gitlab::active().then(|| Mutex::new(Vec::new())),
            live: (ui.is_interactive() && !ui.is_verbose()).then(LiveLine::new),
        }
    }

    /// Under GitLab CI, fold a followed run's status and step lines into a section (opened at
    /// its first status) and its failure report into another; elsewhere nothing.
    fn fold(&self, event: &Event<'_>) -> Option<i64> {
        use super::gitlab;
        let folded = self.folded.as_ref()?;
        let mut open = folded.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Status { run, label } if !open.contains(&run.id) => {
                if run.run_status().is_terminal() {
                    return None;
                }
                open.push(run.id);
                let header = format!("waiting for run {}{}", run.id, paren(*label));
                let name = gitlab::name("wait", run.id);
                gitlab::start(self.ui, gitlab::Stream::Stderr, &name, &header, true);
                None
            }
            Event::Verdict { run, .. }
            | Event::Interrupted { run, .. }
            | Event::TimedOut { run, .. }
            | Event::GaveUp { run, .. } => {
                if let Some(at) = open.iter().position(|id| *id == run.id) {
                    open.remove(at);
                    gitlab::end(
                        self.ui,
                        gitlab::Stream::Stderr,
                        &gitlab::name("wait", run.id),
                    );
                }
                let failed = matches!(event, Event::Verdict { run, .. } if run.run_status() == RunStatus::Error);
                failed.then(|| {
                    let name = gitlab::name("report", run.id);
                    let header = format!("what failed in run {}", run.id);
                    gitlab::start(self.ui, gitlab::Stream::Stdout, &name, &header, false);
                    run.id
                })
            }
            _ => None,
        }
    }

    fn pulse(&self) -> std::sync::MutexGuard<'_, Pulse> {
        self.pulse.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remember what the heartbeat needs from `event`; anything but a heartbeat is a line.
    fn note(&self, event: &Event<'_>) {
        let now = Instant::now();
        let mut pulse = self.pulse();
        match event {
            Event::Heartbeat { run } => {
                pulse.seen(run.id, now);
                return;
            }
            Event::Triggered { run, .. } | Event::Status { run, .. } => pulse.seen(run.id, now),
            Event::Step { run_id, step } => {
                pulse.step = (step.run_status() == RunStatus::Running).then(|| {
                    (
                        *run_id,
                        step.index.unwrap_or(0),
                        step.name.clone().unwrap_or_else(|| "step".into()),
                        now,
                    )
                });
            }
            _ => {}
        }
        pulse.last_line = now;
    }

    /// `still running: run 7, step 4 'dbt build' 1m30s, 2m05s in all` after `HEARTBEAT` of
    /// quiet (live terminals get the same line; `--quiet` drops it with every status line).
    fn heartbeat(&self, run: &Run) {
        let now = Instant::now();
        let mut pulse = self.pulse();
        if now.duration_since(pulse.last_line) < HEARTBEAT {
            return;
        }
        let since = |t: Instant| seconds_text(now.duration_since(t).as_secs_f64());
        let total = pulse
            .runs
            .iter()
            .find(|(id, _)| *id == run.id)
            .map(|(_, t)| format!(", {} in all", since(*t)))
            .unwrap_or_default();
        let step = match &pulse.step {
            Some((id, index, name, t)) if *id == run.id => {
                format!(", step {index} '{name}' {}", since(*t))
            }
            _ => String::new(),
        };
        pulse.last_line = now;
        drop(pulse);
        self.ui.status(format!(
            "still {}: run {}{step}{total}",
            run.run_status().label().to_ascii_lowercase(),
            run.id
        ));
    }
}

impl Reporter for Terminal<'_> {
    fn report(&self, event: &Event<'_>) {
        self.note(event);
        let Some(live) = &self.live else {
            return self.lines(event);
        };
        live.update(event);
        // A poll's pulse only moves the live line, which redraws itself.
        if !matches!(event, Event::Heartbeat { .. }) {
            live.print(|| self.lines(event));
        }
    }
}

impl Terminal<'_> {
    /// The lines `event` prints (a heartbeat's only without a live line).
    fn lines(&self, event: &Event<'_>) {
        let report = self.fold(event);
        match event {
            Event::GaveUp { .. } => self.ending(event),
            _ if event.ends_a_wait() => self.ending(event),
            _ => self.progress(event),
        }
        if let Some(run_id) = report {
            use super::gitlab;
            gitlab::end(
                self.ui,
                gitlab::Stream::Stdout,
                &gitlab::name("report", run_id),
            );
        }
    }

    /// The run going: triggered, its status and steps, the upstream it waits for.
    fn progress(&self, event: &Event<'_>) {
        let ui = self.ui;
        match *event {
            Event::Triggered {
                job_id,
                run,
                adopted,
            } => {
                let adopted = if adopted {
                    " (found after a lost response; not triggered twice)"
                } else {
                    ""
                };
                ui.status(format!("Triggered job {job_id} → run {}{adopted}", run.id));
            }
            Event::Link { url, .. } => ui.status(format!("  {url}")),
            Event::Left { run, url, label } => {
                ui.out(format!("run {}{} triggered: {url}", run.id, paren(label)))
            }
            Event::Status { run, label } => ui.status(format!(
                "run {}{}: {}",
                run.id,
                paren(label),
                run.run_status().label()
            )),
            Event::Step { step, .. } => step_line(ui, step),
            Event::Heartbeat { run } => self.heartbeat(run),
            Event::UpstreamWaiting {
                job_id,
                name,
                newest,
            } => ui.status(format!(
                "waiting for the next run of job {job_id} ({name}) to start (newest so far: {newest})"
            )),
            Event::UpstreamStatus { job_id, run } => ui.status(format!(
                "upstream run {} of job {job_id}: {}",
                run.id,
                run.run_status().label()
            )),
            _ => self.sensor(event),
        }
    }

    /// `watch`'s sensor: pairs started, upstream runs skipped or answered with a trigger.
    fn sensor(&self, event: &Event<'_>) {
        let ui = self.ui;
        match *event {
            Event::SensorStarted {
                upstream_job,
                name,
                downstream_job,
                after_run,
            } => ui.status(format!(
                "watching job {upstream_job} ({name}) → job {downstream_job}: from after run {after_run}"
            )),
            Event::SensorSkipped {
                upstream_job,
                upstream_run,
            } => ui.status(format!(
                "run {upstream_run} of job {upstream_job} finished before the look-back: not triggered"
            )),
            Event::SensorTriggered {
                upstream_job,
                name,
                upstream_run,
                downstream_job,
                run,
            } => ui.out(format!(
                "run {upstream_run} of job {upstream_job} ({name}) succeeded → triggered run {} of job {downstream_job}",
                run.id
            )),
            Event::SensorRecovered {
                upstream_job,
                upstream_run,
                run,
            } => ui.status(format!(
                "run {upstream_run} of job {upstream_job} was already handled before a restart (run {})",
                run.id
            )),
            Event::SensorRetrying { error, interval } => ui.warn(format!(
                "{error}; trying again in {}",
                humantime::format_duration(interval)
            )),
            _ => {}
        }
    }

    /// How a run ended or was left: verdicts, retries, interruptions, deadlines.
    fn ending(&self, event: &Event<'_>) {
        let ui = self.ui;
        match *event {
            Event::Verdict {
                run,
                finished,
                retry_hint,
                label,
            } => print_finished(ui, run, finished, retry_hint, label),
            Event::Retry {
                attempt,
                of,
                failed,
                started,
                plan,
                adopted,
            } => retry_line(ui, attempt, of, failed, started, plan, adopted),
            Event::NotRetried { why, .. } => ui.warn(format!("not retried: {why}")),
            Event::RetriesNotApplied => ui.warn(
                "retries (deploy.dbt_cloud.retries) are not applied to runs awaited together: use --sequential",
            ),
            Event::Interrupted {
                run,
                url,
                cancelling,
                label,
            } => interrupted_line(ui, run, url, cancelling, label),
            Event::CancelUnconfirmed {
                run_id,
                reason,
                ref problem,
            } => ui.warn(match problem {
                CancelProblem::EndedFirst(run) => format!(
                    "{reason}; run {run_id} ended {} before it could be cancelled",
                    run.run_status().label()
                ),
                CancelProblem::Failed(e) => {
                    format!("{reason}, and cancelling run {run_id} failed: {e}")
                }
                CancelProblem::NoAnswer(secs) => format!(
                    "{reason}, and dbt Cloud did not confirm the cancellation of run {run_id} within {secs}s"
                ),
            }),
            Event::TimedOut {
                run,
                url,
                limit,
                cancel_asked,
                cancelled,
                label,
            } => timed_out_lines(ui, run, url, limit, (cancel_asked, cancelled), label),
            Event::GaveUp { run, label } => ui.status(format!(
                "run {} ({label}): gave up waiting, still {}",
                run.id,
                run.run_status().label()
            )),
            // Like every stdout line, not printed under --json (the document says it).
            Event::NotTriggered { label, after } => ui.out(format!(
                "NOT TRIGGERED {label} (an earlier run ended: {})",
                after.word()
            )),
            _ => {}
        }
    }
}

/// ` (dev, job 1)` for one of several runs, nothing for one.
fn paren(label: Option<&str>) -> String {
    label.map(|l| format!(" ({l})")).unwrap_or_default()
}

fn step_line(ui: &Ui, step: &RunStep) {
    let status = step.run_status();
    let name = step.name.as_deref().unwrap_or("step");
    let index = step.index.unwrap_or(0);
    let took = match step.elapsed_seconds() {
        Some(secs) if status.is_terminal() => format!(" ({})", seconds_text(secs)),
        _ => String::new(),
    };
    let label = match status {
        RunStatus::Success => ui.good("ok"),
        RunStatus::Error => ui.bad("error"),
        RunStatus::Cancelled => ui.warnish("cancelled"),
        other => other.label().to_ascii_lowercase(),
    };
    ui.status(format!("  step {index} {name}: {label}{took}"));
}

fn retry_line(
    ui: &Ui,
    attempt: u32,
    of: u32,
    failed: &Run,
    started: &Run,
    plan: &RetryPlan,
    adopted: bool,
) {
    let adopted = if adopted {
        " (found after a lost response; not started twice)"
    } else {
        ""
    };
    let line = format!(
        "retry {attempt}/{of}: run {} → run {} {}{adopted}",
        failed.id,
        started.id,
        plan.describe()
    );
    // With --json the attempts are in the document; the line goes to stderr.
    if ui.is_json() {
        ui.status(line);
    } else {
        ui.out(line);
    }
}

fn interrupted_line(ui: &Ui, run: &Run, url: &str, cancelling: bool, label: Option<&str>) {
    // One run names the signal; several runs' lines are shorter.
    let head = match label {
        None => format!("Interrupted ({})", crate::signals::name()),
        Some(_) => "Interrupted".to_string(),
    };
    if cancelling {
        ui.status(format!("{head}: cancelling run {}…", run.id));
    } else {
        ui.status(format!("{head}: run {} keeps running ({url})", run.id));
    }
}

fn timed_out_lines(
    ui: &Ui,
    run: &Run,
    url: &str,
    limit: &str,
    (cancel_asked, cancelled): (bool, bool),
    label: Option<&str>,
) {
    let status = run.run_status().label();
    let state = match (cancelled, label) {
        (true, _) => "cancelled".to_string(),
        (false, None) => format!("still {status}"),
        (false, Some(_)) => format!("still {status} (left running)"),
    };
    if label.is_none() {
        if !cancel_asked {
            ui.status(format!(
                "Gave up waiting after {limit}; run {} is still {status} (left running: {url})",
                run.id
            ));
        } else if cancelled {
            ui.status(format!("Gave up after {limit}: cancelled run {}", run.id));
        }
    }
    if !ui.is_json() {
        ui.out(format!(
            "{} run {}{} {state} after {limit}",
            ui.warnish("TIMEOUT"),
            run.id,
            paren(label)
        ));
    }
}
