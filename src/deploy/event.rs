//! What a deployment reports while it works, each thing once, in the order it happened. A
//! consumer renders them (the terminal, `--json`'s stderr lines, and next: a live status line,
//! heartbeats, JUnit, CI annotations, serve's stream); the core never prints.

use crate::cloud::retries::RetryPlan;
use crate::cloud::verdict::Finished;
use crate::cloud::{Run, RunStep};

use super::verdict::Outcome;

/// One thing that happened. `label` is set when several jobs are deployed at once
/// (`dev, job 1`), and names the unit the event is about.
#[derive(Debug)]
pub enum Event<'a> {
    /// dbt Cloud confirmed the trigger of `job_id`: the run it created (`adopted`: found by
    /// look-up after a lost answer, not triggered twice).
    Triggered {
        job_id: i64,
        run: &'a Run,
        adopted: bool,
    },
    /// The page of a run just triggered, about to be followed or left.
    Link { run: &'a Run, url: &'a str },
    /// Triggered and not awaited (no `--wait`): the run keeps going.
    Left {
        run: &'a Run,
        url: &'a str,
        label: Option<&'a str>,
    },
    /// A run's status changed (also sent for the first status seen and the last).
    Status {
        run: &'a Run,
        label: Option<&'a str>,
    },
    /// A step of a followed run started or changed status.
    Step { run_id: i64, step: &'a RunStep },
    /// A poll of a followed run was answered and it is still going. Sent at the poll's pace
    /// (at least every 10 s): a heartbeat or live status line picks its own rate from these.
    Heartbeat { run: &'a Run },
    /// A run finished: its verdict with the nodes and, on Error, what failed. `retry_hint`:
    /// no retry follows, so the command that retries it is worth showing.
    Verdict {
        run: &'a Run,
        finished: &'a Finished,
        retry_hint: bool,
        label: Option<&'a str>,
    },
    /// A failed run was started again from its point of failure (`attempt` of `of`).
    Retry {
        attempt: u32,
        of: u32,
        failed: &'a Run,
        started: &'a Run,
        plan: &'a RetryPlan,
        adopted: bool,
    },
    /// A failed run could not be retried (why).
    NotRetried { run: &'a Run, why: &'a str },
    /// Several runs awaited together are not retried (retries need `--sequential`).
    RetriesNotApplied,
    /// A stop signal came while waiting: the run is cancelled (`cancelling`) or left.
    Interrupted {
        run: &'a Run,
        url: &'a str,
        cancelling: bool,
        label: Option<&'a str>,
    },
    /// Cancelling a run did not end in Cancelled (`reason`: why it was being cancelled).
    CancelUnconfirmed {
        run_id: i64,
        reason: &'a str,
        problem: CancelProblem<'a>,
    },
    /// The deadline passed while waiting: the run was cancelled (when asked and confirmed) or
    /// left running. `limit` is the `--timeout` as written.
    TimedOut {
        run: &'a Run,
        url: &'a str,
        limit: &'a str,
        cancel_asked: bool,
        cancelled: bool,
        label: Option<&'a str>,
    },
    /// One of several runs passed its deadline while the others are still awaited.
    GaveUp { run: &'a Run, label: &'a str },
    /// A job was not triggered because an earlier one (`--sequential`) ended without success.
    NotTriggered { label: &'a str, after: Outcome },
    /// `--after-job`: no run of the upstream job is in progress; waiting for the next one.
    UpstreamWaiting {
        job_id: i64,
        name: &'a str,
        newest: i64,
    },
    /// `--after-job`: the upstream run's status changed.
    UpstreamStatus { job_id: i64, run: &'a Run },
    /// `watch`: a pair seen for the first time starts after the upstream's newest success.
    SensorStarted {
        upstream_job: i64,
        name: &'a str,
        downstream_job: i64,
        after_run: i64,
    },
    /// `watch`: an upstream run finished before the look-back: not triggered.
    SensorSkipped {
        upstream_job: i64,
        upstream_run: i64,
    },
    /// `watch`: an upstream success triggered the downstream job.
    SensorTriggered {
        upstream_job: i64,
        name: &'a str,
        upstream_run: i64,
        downstream_job: i64,
        run: &'a Run,
    },
    /// `watch`: a trigger left in doubt before a restart had created this run.
    SensorRecovered {
        upstream_job: i64,
        upstream_run: i64,
        run: &'a Run,
    },
    /// `watch`: an interval failed (5xx, dropped connection); the next one tries again.
    SensorRetrying {
        error: &'a str,
        interval: std::time::Duration,
    },
}

impl Event<'_> {
    /// An event that ends a wait on one run, with a line of its own: a verdict, a retry or
    /// the decision not to, a stop, a timeout, a job not triggered. Reporters clear what they
    /// drew for the wait before it.
    pub fn ends_a_wait(&self) -> bool {
        matches!(
            self,
            Event::Verdict { .. }
                | Event::Retry { .. }
                | Event::NotRetried { .. }
                | Event::Interrupted { .. }
                | Event::CancelUnconfirmed { .. }
                | Event::TimedOut { .. }
                | Event::NotTriggered { .. }
        )
    }
}

/// Why a cancel was not confirmed.
#[derive(Debug)]
pub enum CancelProblem<'a> {
    /// The run reached this verdict before the cancel took.
    EndedFirst(&'a Run),
    /// The cancel request failed.
    Failed(&'a str),
    /// dbt Cloud did not confirm within this many seconds.
    NoAnswer(u64),
}

/// Receives a deployment's events. `Sync`: the waiter may hold it across await points.
pub trait Reporter: Sync {
    fn report(&self, event: &Event<'_>);
}

impl<F: Fn(&Event<'_>) + Sync> Reporter for F {
    fn report(&self, event: &Event<'_>) {
        self(event)
    }
}
