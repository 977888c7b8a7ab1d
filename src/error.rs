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

/// Hook failures: a hook in the way or an unpushed commit are usage and git errors, with
/// what to do next.
/// Git's failures: exit 5, with the hints the error carries (DESIGN.md, "Exit codes").
impl From<crate::git::GitError> for CliError {
    fn from(e: crate::git::GitError) -> Self {
        let hints = e.hints();
        hints
            .into_iter()
            .fold(CliError::new(Exit::Git, e.to_string()), CliError::with_hint)
    }
}

impl From<crate::hook::HookError> for CliError {
    fn from(e: crate::hook::HookError) -> Self {
        use crate::hook::HookError;
        match &e {
            HookError::Foreign { kind, .. } => CliError::usage(e.to_string())
                .with_hint(format!(
                    "--chain keeps it: it is renamed to {kind}.datachonk-chained and runs first (its failure stops the hook)"
                ))
                .with_hint(format!(
                    "--force replaces it, keeping a copy as {kind}.datachonk-backup"
                )),
            HookError::InTheWay { .. } => CliError::usage(e.to_string()),
            HookError::NotPushed { branch, .. } => {
                let what = branch.as_deref().unwrap_or("the branch");
                let push = match branch {
                    Some(b) => format!("git push -u origin {b}"),
                    None => "git push".to_string(),
                };
                CliError::new(Exit::Git, format!("push {what} first: {e}")).with_hint(format!(
                    "the dbt Cloud job can only check out what is on the remote: `{push}`, then merge again"
                ))
            }
            HookError::NoRepository(_) | HookError::Git { .. } => {
                CliError::new(Exit::Git, e.to_string())
            }
            HookError::Io { .. } => CliError::usage(e.to_string()),
        }
    }
}

/// What a command returns: the exit status it wants when it did its job
/// (e.g. `RunError` when the awaited run failed), or an error.
pub type CmdResult = Result<Exit, CliError>;

// Edge mappings: the layers below keep plain errors and values; exit codes and the way a
// failure is printed are decided here.

impl From<crate::config::ConfigError> for CliError {
    fn from(e: crate::config::ConfigError) -> Self {
        use crate::config::ConfigError;
        let message = match &e {
            ConfigError::Invalid { snippet, .. } if !snippet.is_empty() => {
                format!("{e}\n{snippet}")
            }
            _ => e.to_string(),
        };
        let err = CliError::new(Exit::Usage, message);
        match e {
            ConfigError::Invalid { hint: Some(h), .. } => err.with_hint(h),
            ConfigError::Missing { how, .. } => err.with_hint(how),
            ConfigError::NotAFile { .. } => err.with_hint(
                "datachonk.yaml must be a YAML file of a few lines (see datachonk.example.yaml); \
                     rename or remove what is there, or point --config at the right file",
            ),
            _ => err,
        }
    }
}

impl<'a> From<&'a CliError> for crate::ui::Problem<'a> {
    fn from(e: &'a CliError) -> Self {
        crate::ui::Problem {
            message: &e.message,
            hints: &e.hints,
        }
    }
}

/// The `outcome` word of an exit code, shared with the commands' own documents (`success`,
/// `error`, `cancelled`, `timeout`, `interrupted` are what `dbt-run --json` says too).
pub fn outcome_word(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "success",
        Exit::RunError => "error",
        Exit::Usage => "usage_error",
        Exit::Cancelled => "cancelled",
        Exit::Timeout => "timeout",
        Exit::Git => "git_error",
        Exit::Api => "api_error",
        // SIGTERM and SIGHUP get what Ctrl-C gets; the exit code says which signal it was.
        Exit::Interrupted | Exit::Terminated | Exit::HungUp => "interrupted",
    }
}

/// The `--json` document of an exit no command wrote a document for: every failure (usage,
/// configuration, git, API, a deadline hit before any run was known) and any command without
/// a result of its own. Shape (README, "JSON output"):
/// `{"outcome": "usage_error", "exit": 2, "error": {"message": "…", "hints": ["…"]}}`.
pub fn outcome_json(result: &CmdResult) -> serde_json::Value {
    use serde_json::json;
    match result {
        Ok(exit) => json!({ "outcome": outcome_word(*exit), "exit": exit.code(), "error": null }),
        Err(e) => json!({
            "outcome": outcome_word(e.exit),
            "exit": e.exit.code(),
            "error": { "exit": e.exit.code(), "message": e.message, "hints": e.hints },
        }),
    }
}

impl From<crate::marts_ops::error::MartsOpsError> for CliError {
    fn from(e: crate::marts_ops::error::MartsOpsError) -> Self {
        use crate::marts_ops::error::MartsOpsError;
        match e {
            MartsOpsError::Refused { message, hint } => {
                let err = CliError::usage(message);
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            }
            MartsOpsError::Interrupted => {
                CliError::new(Exit::Interrupted, "interrupted: nothing written")
            }
            MartsOpsError::Generate(g) => g.into(),
        }
    }
}

impl From<crate::connect::ConnectError> for CliError {
    fn from(e: crate::connect::ConnectError) -> Self {
        use crate::connect::ConnectError;
        match e {
            ConnectError::Config(c) => c.into(),
            ConnectError::Api(a) => a.into(),
            ConnectError::Refused { message, hint } => {
                let err = CliError::usage(message);
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            }
            ConnectError::Unanswered(m) => CliError::new(Exit::Interrupted, m),
        }
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    #[test]
    fn a_failure_names_its_outcome_exit_message_and_hints() {
        let v = outcome_json(&Err(CliError::usage("bad flag").with_hint("try --help")));
        assert_eq!(v["outcome"], "usage_error");
        assert_eq!(v["exit"], 2);
        assert_eq!(v["error"]["message"], "bad flag");
        assert_eq!(v["error"]["hints"][0], "try --help");
        assert_eq!(outcome_json(&Ok(Exit::Success))["outcome"], "success");
    }
}
