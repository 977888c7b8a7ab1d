//! Where the deploy core's plain results become exit codes (DESIGN.md, "Exit codes").

use crate::deploy::{DeployError, Failure, Outcome};
use crate::error::{CliError, Exit};

impl From<DeployError> for CliError {
    fn from(e: DeployError) -> Self {
        let exit = match e.failure {
            Failure::Usage => Exit::Usage,
            Failure::Api => Exit::Api,
            Failure::Stopped => crate::signals::stop_exit(),
            Failure::Deadline => Exit::Timeout,
            Failure::UpstreamError => Exit::RunError,
            Failure::UpstreamCancelled => Exit::Cancelled,
            // The commit asked for was not validated: as negative a verdict as an Error.
            Failure::WrongCommit => Exit::RunError,
        };
        let mut err = CliError::new(exit, e.message);
        err.hints = e.hints;
        err
    }
}

/// The exit status of a verdict.
pub fn exit_of(outcome: Outcome) -> Exit {
    match outcome {
        Outcome::Triggered | Outcome::Success => Exit::Success,
        Outcome::Error => Exit::RunError,
        Outcome::Cancelled => Exit::Cancelled,
        Outcome::Timeout => Exit::Timeout,
        Outcome::Interrupted => crate::signals::stop_exit(),
    }
}

/// `--check` (and the pre-push hook) found stale files. Exit 1, as `cargo fmt --check` and
/// dbt-osmosis `--check` do: "the thing you asked me to verify is not so", distinct from 2
/// (could not check at all). It shares the code with "the dbt Cloud run finished with Error"
/// because both mean "the verdict is negative"; no command reports both.
pub const STALE: crate::error::Exit = crate::error::Exit::RunError;
