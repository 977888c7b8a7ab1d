//! The `--json` document of an exit no command wrote a document for: every failure (usage,
//! configuration, git, API, a deadline hit before any run was known) and any command without
//! a result of its own. Shape (README, "JSON output"):
//! `{"outcome": "usage_error", "exit": 2, "error": {"message": "…", "hints": ["…"]}}`.

use serde_json::{json, Value};

use crate::error::{CmdResult, Exit};

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
        Exit::Interrupted => "interrupted",
        Exit::Terminated => "terminated",
        Exit::HungUp => "hung_up",
    }
}

pub fn outcome_json(result: &CmdResult) -> Value {
    match result {
        Ok(exit) => json!({ "outcome": outcome_word(*exit), "exit": exit.code(), "error": null }),
        Err(e) => json!({
            "outcome": outcome_word(e.exit),
            "exit": e.exit.code(),
            "error": { "exit": e.exit.code(), "message": e.message, "hints": e.hints },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CliError;

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
