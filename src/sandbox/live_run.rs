//! The handle a live run's executor records through: the run's clock, its steps as they begin
//! and end, cancellation and the deadline. The run store owns the state; executors (the
//! `dbt` one, the replayed simulation) only write through this handle.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::app_state::{lock, AppState};
use super::live::LiveClock;
use super::state::Run;
use super::status::{StepEnd, StepPlan};
use super::work_order::WorkOrder;

/// One live run's thread.
pub(crate) struct Worker {
    pub state: Arc<AppState>,
    pub order: WorkOrder,
    /// `<workdir>/runs/<id>`: the checkout, the profile and each step's artifacts.
    pub run_dir: PathBuf,
    pub(super) created: Instant,
}

impl Worker {
    /// Offset from the run's creation, the unit of every recorded instant.
    pub fn now(&self) -> Duration {
        self.created.elapsed()
    }

    /// A user cancelled the run, or the sandbox is shutting down.
    pub fn cancelled(&self) -> bool {
        self.state.stopping.load(Ordering::Relaxed)
            || lock(&self.state.runs)
                .get(self.order.run_id)
                .is_none_or(|r| r.cancelled_after.is_some())
    }

    /// The job's deadline for anything started now.
    pub fn deadline(&self) -> Option<Instant> {
        self.order.timeout.map(|t| self.created + t)
    }

    pub fn record(&self, f: impl FnOnce(&mut Run)) {
        let mut runs = lock(&self.state.runs);
        if let Some(run) = runs.runs.get_mut(&self.order.run_id) {
            f(run);
        }
    }

    pub(super) fn clock(&self, f: impl FnOnce(&mut LiveClock, Duration)) {
        let now = self.now();
        self.record(|run| {
            if let Some(clock) = run.plan.live.as_mut() {
                f(clock, now);
            }
        });
    }

    /// Show a new running step; returns its position.
    pub fn begin_step(&self, name: &str, command: Option<&str>) -> usize {
        let now = self.now();
        let mut position = 0;
        self.record(|run| {
            position = run.plan.steps.len();
            run.plan.steps.push(StepPlan {
                name: name.to_string(),
                command: command.map(str::to_string),
                duration: Duration::ZERO,
                // Not read until the step has an end time.
                end: StepEnd::Success,
                logs: String::new(),
                artifacts: Vec::new(),
                nodes: Vec::new(),
                debug_logs: None,
                files: None,
            });
            if let Some(clock) = run.plan.live.as_mut() {
                clock.step_times.push((now, None));
            }
        });
        position
    }

    /// Close step `position` with what it produced.
    pub fn end_step(&self, position: usize, done: StepPlan) {
        let now = self.now();
        self.record(|run| {
            let start = run
                .plan
                .live
                .as_ref()
                .and_then(|c| c.step_times.get(position))
                .map_or(now, |t| t.0);
            if let Some(step) = run.plan.steps.get_mut(position) {
                *step = StepPlan {
                    name: step.name.clone(),
                    command: step.command.clone(),
                    duration: now.saturating_sub(start),
                    ..done
                };
            }
            if let Some(t) = run
                .plan
                .live
                .as_mut()
                .and_then(|c| c.step_times.get_mut(position))
            {
                t.1 = Some(now);
            }
        });
    }

    /// A step that ran in-process: begin, end at once with `end` and `logs`.
    pub fn instant_step(&self, name: &str, end: StepEnd, logs: String) {
        let p = self.begin_step(name, None);
        self.end_step(p, plain_step(end, logs));
    }

    /// The run is over; `message` becomes `status_message`.
    pub fn finish(&self, message: Option<String>, skipped: Vec<StepPlan>) {
        let now = self.now();
        self.record(|run| {
            if message.is_some() {
                run.plan.status_message = message;
            }
            run.plan.skipped = skipped;
            if let Some(clock) = run.plan.live.as_mut() {
                clock.finished = Some(now);
            }
        });
    }

    /// dbt Cloud's words for a run that hit its timeout.
    pub fn timeout_message(&self) -> String {
        format!(
            "This run timed out after running for {} seconds.",
            self.order.timeout.map_or(0, |t| t.as_secs())
        )
    }
}

/// A step without artifacts.
pub(crate) fn plain_step(end: StepEnd, logs: String) -> StepPlan {
    StepPlan {
        name: String::new(),
        command: None,
        duration: Duration::ZERO,
        end,
        logs,
        artifacts: Vec::new(),
        nodes: Vec::new(),
        debug_logs: None,
        files: None,
    }
}
