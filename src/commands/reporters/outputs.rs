//! Where a verdict goes besides the terminal and `--json`: GitHub's annotations and step
//! summary (under GitHub Actions), the pull-request comment (`--pr-comment`), the JUnit file
//! (`--junit`). Every command that waits publishes through [`publish`].

use std::path::Path;

use crate::error::CliError;
use crate::ui::Ui;

use super::junit::RunReport;
use super::{github, junit, pr_comment};

/// What the command was asked to write besides its output.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerdictOutputs<'a> {
    /// `--junit FILE`.
    pub junit: Option<&'a Path>,
    /// `--pr-comment`.
    pub pr_comment: bool,
}

/// Publish `runs`' verdict (`verdict`: success, error, …) everywhere `outputs` and the CI
/// system ask. `pull_request` is the GitHub pull request the runs were triggered for, when the
/// command named it (`--pull-request N`); else the comment's comes from the workflow's event.
/// Only the JUnit file can fail the command (it was asked for by path); the annotations,
/// summary and comment warn.
pub async fn publish(
    ui: &Ui,
    runs: &[RunReport<'_>],
    verdict: &str,
    outputs: &VerdictOutputs<'_>,
    pull_request: Option<i64>,
) -> Result<(), CliError> {
    github::publish(ui, runs, verdict);
    if outputs.pr_comment {
        pr_comment::publish(ui, runs, verdict, pull_request).await;
    }
    if let Some(path) = outputs.junit {
        junit::write(path, runs)?;
    }
    Ok(())
}
