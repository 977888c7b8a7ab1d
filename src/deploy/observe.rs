//! Following a run someone else triggered (serve's page, `runs/:id`): its status and steps
//! as events, then its verdict with the nodes. No deadline of ours, no retries.

use crate::cloud::insight::ArtifactStore;
use crate::cloud::verdict::{finish, Finished};
use crate::cloud::wait::{wait_for_run, WaitEnd, WaitEvent, WaitOptions, WaitStats};
use crate::cloud::{ApiError, Client, Run};

use super::event::{Event, Reporter};

/// How observing a run ended.
#[derive(Debug)]
pub enum Observed {
    /// It finished: what it did (also reported as [`Event::Verdict`]).
    Finished(Box<Run>, Box<Finished>),
    /// `options.deadline` passed first.
    GaveUp,
}

/// Follow `run_id` to its verdict, reporting each change to `reporter`.
pub async fn observe(
    client: &Client,
    reporter: &dyn Reporter,
    store: &ArtifactStore,
    run_id: i64,
    options: &WaitOptions,
) -> Result<Observed, ApiError> {
    let mut stats = WaitStats::default();
    let mut on_event = |event: WaitEvent<'_>| {
        reporter.report(&match event {
            WaitEvent::Status(run) => Event::Status { run, label: None },
            WaitEvent::Step(step) => Event::Step { run_id, step },
            WaitEvent::Polled(run) => Event::Heartbeat { run },
        })
    };
    match wait_for_run(client, run_id, options, &mut stats, &mut on_event).await? {
        WaitEnd::Finished(run) => {
            let finished = finish(client, store, &run).await;
            reporter.report(&Event::Verdict {
                run: &run,
                finished: &finished,
                retry_hint: true,
                label: None,
            });
            Ok(Observed::Finished(Box::new(run), Box::new(finished)))
        }
        WaitEnd::TimedOut(_) => Ok(Observed::GaveUp),
    }
}
