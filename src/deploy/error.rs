//! How a deployment fails before it has a verdict, in the core's own terms; `commands/`
//! maps each [`Failure`] to an exit code.

use crate::cloud::ApiError;

/// What kind of failure it is (the exit code follows from it at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request cannot be built (a bad cause, the job named as its own upstream).
    Usage,
    /// dbt Cloud's API failed (after the client's retries).
    Api,
    /// A stop signal came while a request that may create a run was in flight.
    Stopped,
    /// The deadline passed before dbt Cloud confirmed a run was created.
    Deadline,
    /// The upstream run (`--after-job`) ended in Error: nothing was triggered.
    UpstreamError,
    /// The upstream run was cancelled: nothing was triggered.
    UpstreamCancelled,
    /// The run built another commit than the one asked for: its verdict says nothing about it.
    WrongCommit,
}

/// A failure as people read it: what happened and what to do next.
#[derive(Debug)]
pub struct DeployError {
    pub failure: Failure,
    pub message: String,
    pub hints: Vec<String>,
}

impl DeployError {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        DeployError {
            failure,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Failure::Usage, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl From<ApiError> for DeployError {
    fn from(e: ApiError) -> Self {
        DeployError {
            failure: Failure::Api,
            hints: e.hints(),
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for DeployError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeployError {}
