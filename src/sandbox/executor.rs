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

use super::fixture::JobFixture;
use super::simulate;

pub use super::live::LiveClock;
pub use super::manifest_from_checkout::ModelFile;
pub use super::plan::{RunPlan, RunRequest};
pub use super::status::{
    CheckedOut, NodeResult, RunSnapshot, RunStatus, StepEnd, StepPlan, StepSnapshot,
};

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
