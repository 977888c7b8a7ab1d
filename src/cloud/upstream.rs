//! `dbt-run --after-job J`: wait for job J's current run (or, when none is queued or running,
//! its next one to start), and say how it ended, so the downstream job is triggered only after
//! an upstream success.

use std::time::{Duration, Instant};

use super::client::{Client, RunQuery};
use super::errors::ApiError;
use super::types::{Run, RunStatus};
use super::wait::{self, WaitEnd, WaitEvent, WaitOptions, WaitStats};

/// How the upstream run ended.
#[derive(Debug)]
pub enum Upstream {
    Finished(Run),
    /// The deadline came first: the upstream run (if one started) is still going.
    TimedOut(Option<Run>),
}

/// How often to look for the upstream job's next run while none is in progress.
const LOOK_EVERY: Duration = Duration::from_secs(3);

/// Wait for `job_id`'s run in progress, else its next one, until it finishes or `deadline`.
/// `on_waiting` is told once when there is no run in progress yet.
pub async fn await_upstream(
    client: &Client,
    job_id: i64,
    deadline: Option<Instant>,
    on_waiting: &mut dyn FnMut(i64),
    on_event: &mut (dyn FnMut(WaitEvent<'_>) + Send),
) -> Result<Upstream, ApiError> {
    let in_progress = RunQuery {
        job_id: Some(job_id),
        status_in: vec![RunStatus::Queued, RunStatus::Starting, RunStatus::Running],
        order_by: Some("-id".into()),
        limit: 1,
        ..RunQuery::default()
    };
    let run = match client.list_runs(&in_progress).await?.into_iter().next() {
        Some(run) => run,
        None => {
            // Runs created from now on are the next one: anything above the newest id.
            let newest = client.newest_run_id(job_id, &[]).await?;
            on_waiting(newest);
            loop {
                let next = client
                    .list_runs(&RunQuery {
                        job_id: Some(job_id),
                        id_gt: Some(newest),
                        order_by: Some("id".into()),
                        limit: 1,
                        ..RunQuery::default()
                    })
                    .await?;
                if let Some(run) = next.into_iter().next() {
                    break run;
                }
                let pause = match deadline {
                    Some(d) if Instant::now() + LOOK_EVERY >= d => {
                        tokio::time::sleep_until(d.into()).await;
                        return Ok(Upstream::TimedOut(None));
                    }
                    _ => LOOK_EVERY,
                };
                tokio::time::sleep(pause).await;
            }
        }
    };
    let options = WaitOptions {
        deadline,
        expected_running: wait::expected_running_time(client, job_id).await,
        ..WaitOptions::default()
    };
    let mut stats = WaitStats::default();
    Ok(
        match wait::wait_for_run(client, run.id, &options, &mut stats, on_event).await? {
            WaitEnd::Finished(run) => Upstream::Finished(run),
            WaitEnd::TimedOut(last) => Upstream::TimedOut(last.or(Some(run))),
        },
    )
}
