//! After-job chains (`--after-job J`): wait for the upstream job's run, and trigger the
//! downstream one only after an upstream success.

use std::time::Duration;

use crate::cloud::upstream::{await_upstream, Upstream};
use crate::cloud::wait::WaitEvent;
use crate::cloud::RunStatus;

use crate::cloud::Client;

use super::clock::deadline_of;
use super::error::{DeployError, Failure};
use super::event::{Event, Reporter};

/// Wait for `upstream`'s run: the downstream trigger's cause when it succeeded, else the
/// failure that says how it ended (nothing is triggered then). No stop signal is heard here:
/// nothing of ours exists yet, so Ctrl-C simply ends the process.
pub async fn after_upstream(
    client: &Client,
    reporter: &dyn Reporter,
    upstream: i64,
    downstream: i64,
    timeout: Option<Duration>,
) -> Result<String, DeployError> {
    let deadline = deadline_of(timeout);
    let name = client
        .get_job(upstream)
        .await?
        .name
        .unwrap_or_else(|| format!("job {upstream}"));
    let mut waiting = |newest: i64| {
        reporter.report(&Event::UpstreamWaiting {
            job_id: upstream,
            name: &name,
            newest,
        })
    };
    let mut last = None;
    let mut on_event = |e: WaitEvent<'_>| {
        if let WaitEvent::Status(run) = e {
            if last != Some(run.run_status()) {
                last = Some(run.run_status());
                reporter.report(&Event::UpstreamStatus {
                    job_id: upstream,
                    run,
                });
            }
        }
    };
    let end = await_upstream(client, upstream, deadline, &mut waiting, &mut on_event).await?;
    let not_triggered = format!("job {downstream} was not triggered");
    match end {
            Upstream::Finished(run) => match run.run_status() {
                RunStatus::Success => Ok(crate::cloud::sensor::cause_for(run.id, &name)),
                RunStatus::Cancelled => Err(DeployError::new(
                    Failure::UpstreamCancelled,
                    format!("upstream run {} of job {upstream} ({name}) was cancelled: {not_triggered}", run.id),
                )),
                _ => Err(DeployError::new(
                    Failure::UpstreamError,
                    format!("upstream run {} of job {upstream} ({name}) ended in Error: {not_triggered}", run.id),
                )
                .with_hint(format!("see it: datachonk cloud runs show {} --nodes", run.id))),
            },
            Upstream::TimedOut(run) => Err(DeployError::new(
                Failure::Deadline,
                match run {
                    Some(r) => format!(
                        "upstream run {} of job {upstream} did not finish within --timeout: {not_triggered}",
                        r.id
                    ),
                    None => format!(
                        "no run of job {upstream} started within --timeout: {not_triggered}"
                    ),
                },
            )),
        }
}
