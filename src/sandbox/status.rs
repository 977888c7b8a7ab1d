//! What a run is and how it stands: status codes, planned steps and their nodes, snapshots.
//! Plain data shared by the plan, the live clock, the executors and the API (a leaf).

use std::path::PathBuf;
use std::time::Duration;

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
