//! Run lifecycle: how a run moves Queued (1) → Starting (2) → Running (3) → Success (10) /
//! Error (20) / Cancelled (30), and which executor decides what happens in it.
//!
//! A run's progress is a *plan* fixed when the run is created (phase and step durations,
//! the step that fails) plus an optional cancellation instant. Every read computes the run's
//! state from the time elapsed since creation ([`RunPlan::snapshot`]): no background task can
//! lag behind a poll, a cancel takes effect at the exact instant it arrives, and tests see the
//! same sequence of states every time.
//!
//! Executors: [`Executor::Simulate`] builds the plan from the job's fixture. Runs that check
//! out a repository (a job with `repository:`, or any run of [`Executor::Dbt`]) are *live*:
//! a worker thread (see `worker`) writes their plan as things happen and records the instants
//! in a [`LiveClock`]; [`RunPlan`] stays the shape the API layer reads either way.

use std::path::PathBuf;
use std::time::Duration;

pub use super::live::LiveClock;

use super::fixture::{
    EnvironmentFixture, FailureStatus, JobFixture, Outcome, ProjectFixture, RunBehaviour,
};
use super::simulate;

pub use super::manifest_from_checkout::ModelFile;

/// Run status codes (the spec's `RunResponse.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "i64", try_from = "i64")]
pub enum RunStatus {
    Queued = 1,
    Starting = 2,
    Running = 3,
    Success = 10,
    Error = 20,
    Cancelled = 30,
}

impl RunStatus {
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<RunStatus> {
        Some(match code {
            1 => RunStatus::Queued,
            2 => RunStatus::Starting,
            3 => RunStatus::Running,
            10 => RunStatus::Success,
            20 => RunStatus::Error,
            30 => RunStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn humanized(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Starting => "Starting",
            RunStatus::Running => "Running",
            RunStatus::Success => "Success",
            RunStatus::Error => "Error",
            RunStatus::Cancelled => "Cancelled",
        }
    }

    /// Colour dbt Cloud shows for a step in this status.
    pub fn color(self) -> &'static str {
        match self {
            RunStatus::Queued | RunStatus::Starting => "#9ca3af",
            RunStatus::Running => "#3f83f8",
            RunStatus::Success => "#55973a",
            RunStatus::Error => "#e3342f",
            RunStatus::Cancelled => "#6b7280",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Success | RunStatus::Error | RunStatus::Cancelled
        )
    }
}

impl From<RunStatus> for i64 {
    fn from(s: RunStatus) -> i64 {
        s.code()
    }
}

impl TryFrom<i64> for RunStatus {
    type Error = String;
    fn try_from(code: i64) -> Result<Self, String> {
        RunStatus::from_code(code).ok_or_else(|| format!("unknown run status {code}"))
    }
}

/// How a planned step ends when nothing interrupts it.
#[derive(Debug, Clone, PartialEq)]
pub enum StepEnd {
    Success,
    Error,
    Cancelled,
}

/// The result of one node in one step (becomes an entry of `run_results.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResult {
    pub unique_id: String,
    pub name: String,
    pub resource_type: String,
    /// `success`, `error`, `fail`, `pass` or `skipped`.
    pub status: &'static str,
    pub message: Option<String>,
    pub failures: Option<i64>,
    pub execution_time: f64,
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct StepPlan {
    pub name: String,
    /// The dbt command for "Invoke dbt" steps.
    pub command: Option<String>,
    pub duration: Duration,
    pub end: StepEnd,
    pub logs: String,
    /// Artifact paths this step writes when it finishes (success or error).
    pub artifacts: Vec<String>,
    pub nodes: Vec<NodeResult>,
    /// dbt's debug log for the step (`debug_logs`); `None`: the same as `logs`.
    pub debug_logs: Option<String>,
    /// Directory holding the real files named by `artifacts` (the step's copy of dbt's
    /// `target/`); `None`: the artifacts are synthesised from the plan.
    pub files: Option<PathBuf>,
}

/// Everything decided when a run is created.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub queued: Duration,
    pub starting: Duration,
    /// Steps up to and including the one that ends the run.
    pub steps: Vec<StepPlan>,
    /// Steps that would have followed a failing one (shown by `GET .../retry/`).
    pub skipped: Vec<StepPlan>,
    /// dbt project name and models (for the artifacts).
    pub project_name: String,
    pub models: Vec<String>,
    /// The models' files when they were read from a checkout (empty: fixture models, whose
    /// paths the artifacts make up).
    pub model_files: Vec<ModelFile>,
    pub dbt_version: String,
    /// Set for live runs: the recorded instants (see [`LiveClock`]).
    pub live: Option<LiveClock>,
    /// What was checked out (live runs with a repository); `None`: the trigger's values.
    pub checked_out: Option<CheckedOut>,
    /// Why the run failed, in the user's terms (`status_message`).
    pub status_message: Option<String>,
    /// The run whose manifest `--defer --state` compared against.
    pub deferring_run_id: Option<i64>,
    /// Verdicts the simulated `sources.json` gives source tables (`source.table` or `table`);
    /// absent ones pass.
    pub source_freshness: std::collections::BTreeMap<String, super::fixture::FreshnessStatus>,
}

/// The commit a live run checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedOut {
    pub sha: String,
    pub branch: Option<String>,
}

/// A step as it stands at some instant.
#[derive(Debug, Clone, PartialEq)]
pub struct StepSnapshot {
    /// Index into `RunPlan::steps` (the API index is this + 1).
    pub position: usize,
    pub status: RunStatus,
    pub started: Duration,
    pub finished: Option<Duration>,
}

/// A run as it stands at some instant. All instants are offsets from the run's creation.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSnapshot {
    pub status: RunStatus,
    pub dequeued: Option<Duration>,
    pub started: Option<Duration>,
    pub finished: Option<Duration>,
    pub updated: Duration,
    pub steps: Vec<StepSnapshot>,
    /// Set when a user (or the fixture's `cancelled` outcome) cancelled the run.
    pub cancelled: bool,
}

impl RunSnapshot {
    /// A finished step that wrote artifacts, by API index (1-based).
    pub fn step_wrote_artifacts(&self, plan: &RunPlan, index: usize) -> bool {
        self.steps.iter().any(|s| {
            s.position + 1 == index
                && s.finished.is_some()
                && matches!(s.status, RunStatus::Success | RunStatus::Error)
                && !plan.steps[s.position].artifacts.is_empty()
        })
    }
}

impl RunPlan {
    fn step_bounds(&self) -> Vec<(Duration, Duration)> {
        let mut t = self.queued + self.starting;
        self.steps
            .iter()
            .map(|s| {
                let start = t;
                t += s.duration;
                (start, t)
            })
            .collect()
    }

    /// When the run ends by itself.
    pub fn natural_end(&self) -> Duration {
        self.step_bounds()
            .last()
            .map_or(self.queued + self.starting, |b| b.1)
    }

    /// The run's state `now` after creation, given an optional user cancellation instant.
    pub fn snapshot(&self, now: Duration, cancelled_at: Option<Duration>) -> RunSnapshot {
        if let Some(clock) = &self.live {
            return clock.snapshot(&self.steps, now, cancelled_at);
        }
        let bounds = self.step_bounds();
        let dq = self.queued;
        let st = self.queued + self.starting;
        let end = self.natural_end();
        let cancel = cancelled_at.filter(|c| *c < end && *c <= now);
        if let Some(c) = cancel {
            let steps = bounds
                .iter()
                .enumerate()
                .filter(|(_, (s, _))| *s < c)
                .map(|(i, (s, e))| StepSnapshot {
                    position: i,
                    status: if *e <= c {
                        RunStatus::Success
                    } else {
                        RunStatus::Cancelled
                    },
                    started: *s,
                    finished: Some((*e).min(c)),
                })
                .collect();
            return RunSnapshot {
                status: RunStatus::Cancelled,
                dequeued: (c >= dq).then_some(dq),
                started: (c >= st).then_some(st),
                finished: Some(c),
                updated: c,
                steps,
                cancelled: true,
            };
        }
        let status = if now < dq {
            RunStatus::Queued
        } else if now < st {
            RunStatus::Starting
        } else if now < end {
            RunStatus::Running
        } else {
            match self.steps.last().map(|s| &s.end) {
                Some(StepEnd::Error) => RunStatus::Error,
                Some(StepEnd::Cancelled) => RunStatus::Cancelled,
                _ => RunStatus::Success,
            }
        };
        let steps: Vec<StepSnapshot> = bounds
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s <= now && now >= st)
            .map(|(i, (s, e))| {
                let done = *e <= now;
                StepSnapshot {
                    position: i,
                    status: if !done {
                        RunStatus::Running
                    } else {
                        match self.steps[i].end {
                            StepEnd::Success => RunStatus::Success,
                            StepEnd::Error => RunStatus::Error,
                            StepEnd::Cancelled => RunStatus::Cancelled,
                        }
                    },
                    started: *s,
                    finished: done.then_some(*e),
                }
            })
            .collect();
        let mut updated = Duration::ZERO;
        for t in [Some(dq), Some(st)]
            .into_iter()
            .flatten()
            .chain(bounds.iter().flat_map(|(s, e)| [*s, *e]))
        {
            if t <= now {
                updated = updated.max(t);
            }
        }
        RunSnapshot {
            status,
            dequeued: (now >= dq).then_some(dq),
            started: (now >= st).then_some(st),
            finished: status.is_terminal().then_some(end),
            updated,
            steps,
            cancelled: status == RunStatus::Cancelled,
        }
    }
}

/// What a run is asked to do: the job's context plus the trigger's overrides.
pub struct RunRequest<'a> {
    pub job: &'a JobFixture,
    pub project: &'a ProjectFixture,
    pub environment: &'a EnvironmentFixture,
    /// The commands to run (`steps_override` or the job's `execute_steps`).
    pub commands: Vec<String>,
    pub git_sha: Option<String>,
    pub git_branch: Option<String>,
    pub generate_docs: bool,
    pub dbt_version: String,
    /// The model files at the requested sha (empty: the job's fixture `models`).
    pub model_files: &'a [ModelFile],
    /// The behaviour to simulate (the job's, or its retry behaviour).
    pub behaviour: RunBehaviour,
    /// A retry: the nodes the retried run's failed step did not get done (failed, errored,
    /// skipped). Its first node-running step runs only these, as `dbt retry` does.
    pub retry_nodes: Option<Vec<String>>,
}

/// Which executor runs the sandbox's runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Executor {
    /// Timings and outcomes from the fixture; artifacts synthesised from the job's models, or
    /// from the model files at the requested sha when the job names a `repository`.
    #[default]
    Simulate,
    /// Clone the job's repository at the requested sha and run its steps with real dbt-core
    /// (`dbt` is the executable, e.g. a virtualenv's `bin/dbt` with dbt-duckdb installed).
    Dbt { dbt: PathBuf },
}

impl Executor {
    /// Decide how a new run unfolds: a full plan for simulated runs without a repository, an
    /// empty live plan (filled in by a worker) otherwise.
    pub fn plan(&self, request: &RunRequest<'_>) -> RunPlan {
        if self.is_live_for(request.job) {
            return RunPlan {
                queued: Duration::ZERO,
                starting: Duration::ZERO,
                steps: Vec::new(),
                skipped: Vec::new(),
                project_name: request.project.name.clone(),
                models: Vec::new(),
                model_files: Vec::new(),
                dbt_version: request.dbt_version.clone(),
                live: Some(LiveClock::default()),
                checked_out: None,
                status_message: None,
                deferring_run_id: None,
                source_freshness: request.job.run.freshness.clone(),
            };
        }
        simulate::plan(request)
    }

    /// Whether runs of `job` are driven by a worker rather than planned up front.
    pub fn is_live_for(&self, job: &JobFixture) -> bool {
        matches!(self, Executor::Dbt { .. }) || job.repository.is_some()
    }
}

/// Default `failing_step` resolution shared by executors: 1-based, clamped to the steps.
pub(crate) fn failing_position(behaviour: &RunBehaviour, steps: usize) -> usize {
    behaviour
        .failing_step
        .map_or(steps, |i| i.clamp(1, steps))
        .saturating_sub(1)
}

/// dbt's `run_results.json` status for a failure kind.
pub(crate) fn failure_status(s: FailureStatus) -> &'static str {
    match s {
        FailureStatus::Error => "error",
        FailureStatus::Fail => "fail",
    }
}

/// Whether the behaviour ends the run early.
pub(crate) fn ends_early(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ends: &[StepEnd]) -> RunPlan {
        RunPlan {
            queued: Duration::from_millis(10),
            starting: Duration::from_millis(10),
            steps: ends
                .iter()
                .map(|e| StepPlan {
                    name: "s".into(),
                    command: None,
                    duration: Duration::from_millis(10),
                    end: e.clone(),
                    logs: String::new(),
                    artifacts: vec![],
                    nodes: vec![],
                    debug_logs: None,
                    files: None,
                })
                .collect(),
            skipped: vec![],
            project_name: "p".into(),
            models: vec![],
            model_files: vec![],
            dbt_version: "latest".into(),
            live: None,
            checked_out: None,
            status_message: None,
            deferring_run_id: None,
            source_freshness: Default::default(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn walks_through_the_phases() {
        let p = plan(&[StepEnd::Success, StepEnd::Error]);
        assert_eq!(p.snapshot(ms(5), None).status, RunStatus::Queued);
        assert_eq!(p.snapshot(ms(15), None).status, RunStatus::Starting);
        let s = p.snapshot(ms(35), None);
        assert_eq!(s.status, RunStatus::Running);
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[0].status, RunStatus::Success);
        assert_eq!(s.steps[1].status, RunStatus::Running);
        let s = p.snapshot(ms(100), None);
        assert_eq!(s.status, RunStatus::Error);
        assert_eq!(s.finished, Some(ms(40)));
    }

    #[test]
    fn cancel_mid_step_and_while_queued() {
        let p = plan(&[StepEnd::Success, StepEnd::Success]);
        let s = p.snapshot(ms(100), Some(ms(35)));
        assert_eq!(s.status, RunStatus::Cancelled);
        assert_eq!(s.steps[1].status, RunStatus::Cancelled);
        assert_eq!(s.finished, Some(ms(35)));
        let s = p.snapshot(ms(100), Some(ms(5)));
        assert_eq!(s.started, None);
        assert!(s.steps.is_empty());
        // A cancel after the natural end changes nothing.
        assert_eq!(p.snapshot(ms(100), Some(ms(90))).status, RunStatus::Success);
    }
}
