//! What a live run's worker is given when the run is created: everything copied out of the
//! fixture and the trigger, so the worker never reads the run store to learn its task.

use std::path::PathBuf;
use std::time::Duration;

use super::executor::Executor;
use super::fixture::{EnvironmentFixture, JobFixture, ProjectFixture, RunBehaviour};

/// Everything a worker needs, copied out of the fixture and trigger when the run is created
/// (the worker never holds the run store's lock while it works).
#[derive(Debug, Clone)]
pub struct WorkOrder {
    pub run_id: i64,
    pub executor: Executor,
    pub job: JobFixture,
    pub project: ProjectFixture,
    pub environment: EnvironmentFixture,
    pub commands: Vec<String>,
    pub git_sha: Option<String>,
    pub git_branch: Option<String>,
    pub generate_docs: bool,
    pub behaviour: RunBehaviour,
    pub dbt_version: String,
    pub threads: i64,
    pub target_name: String,
    pub schema: Option<String>,
    /// `timeout_seconds_override`, else the job's `timeout_seconds` (0: none).
    pub timeout: Option<Duration>,
    /// For a retry (`POST runs/{id}/retry/`): the files the retried run's failed step kept
    /// (its `run_results.json`), from which the `dbt` executor runs `dbt retry`.
    pub retry_state: Option<PathBuf>,
    /// For a simulated retry: the nodes it re-runs (see [`RunRequest::retry_nodes`](super::plan::RunRequest::retry_nodes)).
    pub retry_nodes: Option<Vec<String>>,
}
