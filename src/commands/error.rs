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
