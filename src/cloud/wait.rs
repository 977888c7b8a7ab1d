//! Waiting for a run: adaptive polling and change events.
//!
//! The poll schedule (see [`next_poll`]) aims at three goals at once: leave within ~0.5 s of
//! the run finishing, average under 1 request/s over a one-minute run, and under 0.2
//! request/s over a run of ten minutes or more. It polls every 0.5 s at first, then backs off
//! in proportion to how long the run has been in its state (a run that has been running for
//! 80 s is unlikely to end in the next second) up to 15 s; and it polls fast again in a window
//! around the end expected from the job's recent successful runs. Other tools poll every
//! 5–60 s, so they either hammer the API or leave a hook waiting for nothing.
//!
//! Terminal states come only from the run's status code (10, 20, 30). A 404 just after the
//! trigger is tolerated for a grace period (a new run can lag, even after one poll saw it);
//! transient failures are
//! retried by the client, so a dropped connection or read timeout does not end the wait.

use std::time::{Duration, Instant};

use super::client::Client;
use super::client::RunQuery;
use super::errors::ApiError;
use super::types::{Run, RunStatus, RunStep};

/// What the waiter reports, each change once.
#[derive(Debug)]
pub enum WaitEvent<'a> {
    /// The run's status changed (also sent for the first status seen).
    Status(&'a Run),
    /// A step started or changed status.
    Step(&'a RunStep),
    /// A poll was answered and the run is not finished (after any change it reported): the
    /// pulse a heartbeat or a live status line is drawn from.
    Polled(&'a Run),
}

#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up at this moment, whatever the requests in flight are doing (the run is left
    /// alone; the caller may cancel it).
    pub deadline: Option<Instant>,
    /// Typical time from start to finish of this job's successful runs, if known.
    pub expected_running: Option<Duration>,
    /// How long a 404 for the run is taken as "not visible yet".
    pub not_found_grace: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            deadline: None,
            expected_running: None,
            not_found_grace: Duration::from_secs(15),
        }
    }
}

#[derive(Debug)]
pub enum WaitEnd {
    /// The run reached 10, 20 or 30.
    Finished(Run),
    /// The deadline passed first; the last state seen, if any poll was answered.
    TimedOut(Option<Run>),
}

#[derive(Debug, Default)]
pub struct WaitStats {
    pub polls: u32,
    /// The last state of the run seen: still readable when the wait is abandoned (Ctrl-C).
    pub last: Option<Run>,
}

pub(crate) const FAST: Duration = Duration::from_millis(500);
/// How long the API may be unreachable (or answer 5xx/429) while a run is awaited.
pub(crate) const OUTAGE_TOLERANCE: Duration = Duration::from_secs(300);

pub(crate) fn is_outage(e: &ApiError) -> bool {
    match e {
        ApiError::Unreachable { .. } => true,
        ApiError::GaveUp { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}
/// The longest pause between polls: also how late a run with no history to predict its end
/// from can be noticed. 10 s keeps an hour-long run near 0.1 requests/s (15 s made a cold
/// 11-minute run exit 14.5 s after it finished).
const SLOWEST: Duration = Duration::from_secs(10);

/// The delay before the next poll. `in_state` is how long the run has been in its current
/// phase (queued/starting: since creation; running: since it started).
pub fn next_poll(
    status: RunStatus,
    in_state: Duration,
    expected_running: Option<Duration>,
) -> Duration {
    let proportional = (in_state / 10).clamp(FAST, SLOWEST);
    match status {
        RunStatus::Queued | RunStatus::Starting => proportional.min(Duration::from_secs(5)),
        _ => match expected_running {
            Some(expected) => {
                let window_start = expected.saturating_sub(Duration::from_secs(2));
                let window_end = expected + (expected / 10).max(Duration::from_secs(5));
                if in_state >= window_start && in_state <= window_end {
                    FAST
                } else if in_state < window_start {
                    // Never sleep past the start of the window.
                    proportional.min(window_start - in_state).max(FAST)
                } else {
                    proportional
                }
            }
            None => proportional,
        },
    }
}

/// The typical running time of the job's recent successful runs (median of up to 5).
pub async fn expected_running_time(client: &Client, job_id: i64) -> Option<Duration> {
    let runs = client
        .list_runs(&RunQuery {
            job_id: Some(job_id),
            status_in: vec![RunStatus::Success],
            order_by: Some("-id".into()),
            limit: 5,
            ..RunQuery::default()
        })
        .await
        .ok()?;
    let mut secs: Vec<f64> = runs
        .iter()
        .filter_map(|r| {
            Some((r.finished_at?.0 - r.started_at?.0).num_milliseconds() as f64 / 1000.0)
        })
        .filter(|s| *s >= 0.0)
        .collect();
    if secs.is_empty() {
        return None;
    }
    secs.sort_by(f64::total_cmp);
    Some(Duration::from_secs_f64(secs[secs.len() / 2]))
}

/// Poll the run until it finishes or `timeout` passes, reporting changes to `on_event`.
pub async fn wait_for_run(
    client: &Client,
    run_id: i64,
    options: &WaitOptions,
    stats: &mut WaitStats,
    on_event: &mut (dyn FnMut(WaitEvent<'_>) + Send),
) -> Result<WaitEnd, ApiError> {
    let began = Instant::now();
    let deadline = options.deadline;
    let mut last_status: Option<RunStatus> = None;
    let mut seen_steps: Vec<(i64, Option<i64>)> = Vec::new();
    let mut state_since = Instant::now();
    let mut outage_since: Option<Instant> = None;
    let past_deadline = || deadline.is_some_and(|d| Instant::now() >= d);
    loop {
        stats.polls += 1;
        // A request in flight never outlives the deadline (a slow or silent API included).
        let fetched = match deadline {
            Some(d) => tokio::time::timeout_at(
                d.into(),
                client.get_run(run_id, &["run_steps", "job", "trigger"]),
            )
            .await
            .ok(),
            None => Some(
                client
                    .get_run(run_id, &["run_steps", "job", "trigger"])
                    .await,
            ),
        };
        let Some(fetched) = fetched else {
            return Ok(WaitEnd::TimedOut(stats.last.clone()));
        };
        let run = match fetched {
            Ok(run) => run,
            // Also after the run was seen once: reads can hit a replica that lags behind the
            // one that answered before, so visibility is not monotonic just after a trigger.
            Err(ApiError::NotFound { .. }) if began.elapsed() < options.not_found_grace => {
                client.debug(&format!("run {run_id} not visible yet; retrying"));
                sleep_until_next(FAST, deadline).await;
                if past_deadline() {
                    return Ok(WaitEnd::TimedOut(stats.last.clone()));
                }
                continue;
            }
            // The API being down for a while must not fail a healthy run: keep waiting
            // through an outage of up to OUTAGE_TOLERANCE (each request already retried).
            Err(e)
                if is_outage(&e)
                    && outage_since.get_or_insert_with(Instant::now).elapsed()
                        < OUTAGE_TOLERANCE =>
            {
                client.debug(&format!(
                    "dbt Cloud unavailable while waiting ({e}); still waiting"
                ));
                sleep_until_next(Duration::from_secs(5), deadline).await;
                if past_deadline() {
                    return Ok(WaitEnd::TimedOut(stats.last.clone()));
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        outage_since = None;
        let status = run.run_status();
        let status_changed = last_status != Some(status);
        // A finished run's last step changes are reported before the verdict; otherwise the
        // new status comes first ("Running", then its steps).
        if status_changed && !status.is_terminal() {
            on_event(WaitEvent::Status(&run));
        }
        if status_changed {
            last_status = Some(status);
            state_since = Instant::now();
        }
        for step in run.steps() {
            let key = (step.index.unwrap_or(0), step.status);
            let known = seen_steps.iter().position(|(i, _)| *i == key.0);
            match known {
                Some(pos) if seen_steps[pos].1 == key.1 => {}
                Some(pos) => {
                    seen_steps[pos] = key;
                    on_event(WaitEvent::Step(step));
                }
                None => {
                    seen_steps.push(key);
                    on_event(WaitEvent::Step(step));
                }
            }
        }
        stats.last = Some(run.clone());
        if status.is_terminal() {
            on_event(WaitEvent::Status(&run));
            return Ok(WaitEnd::Finished(run));
        }
        on_event(WaitEvent::Polled(&run));
        let in_state = time_in_state(&run, state_since);
        let delay = next_poll(status, in_state, options.expected_running);
        if past_deadline() {
            return Ok(WaitEnd::TimedOut(Some(run)));
        }
        sleep_until_next(delay, deadline).await;
        if past_deadline() {
            return Ok(WaitEnd::TimedOut(Some(run)));
        }
    }
}

/// Time in the run's current phase (queued/starting: since creation; running: since it
/// started), by the server's clock when it tells us, else since `seen_since` by ours.
pub(crate) fn time_in_state(run: &Run, seen_since: Instant) -> Duration {
    match (run.run_status(), run.started_at, run.created_at) {
        (RunStatus::Running, Some(started), _) => server_age(started.0),
        (RunStatus::Queued | RunStatus::Starting, _, Some(created)) => server_age(created.0),
        _ => None,
    }
    .unwrap_or_else(|| seen_since.elapsed())
}

fn server_age(t: chrono::DateTime<chrono::FixedOffset>) -> Option<Duration> {
    (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .to_std()
        .ok()
}

pub(crate) async fn sleep_until_next(delay: Duration, deadline: Option<Instant>) {
    let wake = Instant::now() + delay;
    let wake = deadline.map_or(wake, |d| wake.min(d));
    tokio::time::sleep_until(wake.into()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn polls_fast_at_first_and_backs_off_to_a_cap() {
        assert_eq!(next_poll(RunStatus::Queued, secs(0.0), None), FAST);
        assert_eq!(next_poll(RunStatus::Running, secs(1.0), None), FAST);
        assert_eq!(next_poll(RunStatus::Running, secs(40.0), None), secs(4.0));
        assert_eq!(next_poll(RunStatus::Running, secs(3600.0), None), SLOWEST);
        assert!(next_poll(RunStatus::Queued, secs(3600.0), None) <= secs(5.0));
    }

    #[test]
    fn polls_fast_around_the_expected_end_but_not_forever() {
        let expected = Some(secs(100.0));
        // Long before the end: proportional, but never past the window's start (98 s).
        assert_eq!(
            next_poll(RunStatus::Running, secs(50.0), expected),
            secs(5.0)
        );
        assert_eq!(
            next_poll(RunStatus::Running, secs(95.0), expected),
            secs(3.0)
        );
        assert_eq!(next_poll(RunStatus::Running, secs(99.0), expected), FAST);
        assert_eq!(next_poll(RunStatus::Running, secs(109.0), expected), FAST);
        // Far past the expected end: back to proportional.
        assert_eq!(
            next_poll(RunStatus::Running, secs(200.0), expected),
            SLOWEST
        );
    }

    #[test]
    fn request_rate_meets_the_goals() {
        // Simulate the schedule over a run: count polls.
        fn polls(queued: f64, running: f64, expected: Option<f64>) -> u32 {
            let mut t = 0.0;
            let mut n = 0;
            while t < queued + running {
                n += 1;
                let (status, in_state) = if t < queued {
                    (RunStatus::Queued, t)
                } else {
                    (RunStatus::Running, t - queued)
                };
                t += next_poll(status, secs(in_state), expected.map(secs)).as_secs_f64();
            }
            n + 1
        }
        let minute = polls(3.0, 57.0, Some(57.0));
        assert!(f64::from(minute) / 60.0 <= 1.0, "{minute} polls in 60 s");
        let long = polls(5.0, 655.0, Some(655.0));
        assert!(f64::from(long) / 660.0 <= 0.2, "{long} polls in 660 s");
        let unknown = polls(5.0, 655.0, None);
        assert!(
            f64::from(unknown) / 660.0 <= 0.2,
            "{unknown} polls in 660 s"
        );
    }
}
