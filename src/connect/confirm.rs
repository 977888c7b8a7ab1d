//! The production gate: a job that changes production runs only once someone agreed.

use std::io::IsTerminal;

use crate::config::Config;

use super::error::ConnectError;

/// The production gate, by job: asked when the chosen target says `confirm: true`, or when
/// any target marked so names `job_id` — however the command reached the job (`--job-id`,
/// `--job NAME`, `DBT_CLOUD_JOB_ID`, `--trigger`, another target).
pub fn confirm_job(
    no_input: bool,
    cfg: &Config,
    job_id: Option<i64>,
    yes: bool,
    doing: &str,
) -> Result<(), ConnectError> {
    let d = &cfg.dbt_cloud;
    let by_job = job_id.and_then(|j| d.protected_by(j));
    if yes || !(d.confirm.value || by_job.is_some()) {
        return Ok(());
    }
    let chosen = d
        .target
        .as_ref()
        .filter(|_| d.confirm.value)
        .map(|t| t.value.as_str());
    let what = match (chosen.or(by_job), job_id) {
        (Some(t), Some(j)) => format!("target `{t}` (job {j})"),
        (Some(t), None) => format!("target `{t}`"),
        (None, Some(j)) => format!("job {j}"),
        (None, None) => "this job".to_string(),
    };
    let interactive =
        !no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(ConnectError::refused(format!(
            "{what} is marked `confirm: true` (it changes production): not {doing} without confirmation"
        ))
        .with_hint("pass --yes to go ahead (in CI, once a person has decided to)"));
    }
    let go = dialoguer::Confirm::new()
        .with_prompt(crate::terminal_text::escape(&format!(
            "{what} changes production. Go ahead with {doing}?"
        )))
        .default(false)
        .interact()
        .map_err(|e| ConnectError::Unanswered(format!("no answer: {e}")))?;
    if go {
        Ok(())
    } else {
        Err(ConnectError::refused(format!(
            "not confirmed: nothing was {}",
            if doing.starts_with("push") {
                "pushed or triggered"
            } else {
                "triggered"
            }
        )))
    }
}
