//! One error story at the CLI edge: every failure becomes a `CliError` carrying the exit
//! code from DESIGN.md, a message written for people and optional hints.

use std::fmt;

/// Exit codes are an interface: hooks and CI depend on them (README, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// The dbt Cloud run finished with Error.
    RunError = 1,
    /// Usage or configuration error.
    Usage = 2,
    /// The run was cancelled.
    Cancelled = 3,
    /// Gave up waiting (`--timeout`).
    Timeout = 4,
    /// Git failure.
    Git = 5,
    /// dbt Cloud API failure (auth, not found, unreachable after retries).
    Api = 6,
    /// Interrupted (Ctrl-C, SIGINT).
    Interrupted = 130,
    /// Stopped by SIGTERM, as Ctrl-C stops it.
    Terminated = 143,
    /// Stopped by SIGHUP (the terminal closed), as Ctrl-C stops it.
    HungUp = 129,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A failure as the user sees it.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
    pub hints: Vec<String>,
}

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        CliError {
            exit,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// dbt Cloud API failures are exit 6, with the client's hints.
impl From<crate::cloud::ApiError> for CliError {
    fn from(e: crate::cloud::ApiError) -> Self {
        let hints = e.hints();
        let mut err = CliError::new(Exit::Api, e.to_string());
        err.hints = hints;
        err
    }
}

/// What a command returns: the exit status it wants when it did its job
/// (e.g. `RunError` when the awaited run failed), or an error.
pub type CmdResult = Result<Exit, CliError>;
