//! Waiting for a run: adaptive polling and change events.
//!
//! The poll schedule (see [`next_poll`]) aims at three goals at once: leave within ~0.3 s of
//! the run finishing, average under 0.5 request/s over a one-minute run, and under 0.2
//! request/s over a run of ten minutes or more. It polls every 0.5 s at first, then backs off
//! in proportion to how long the run has been in its state (a run that has been running for
//! 80 s is unlikely to end in the next second) up to 10 s. When the end can be expected —
//! from the job's recent successful runs, or else from the steps seen so far (the job's
//! `execute_steps` say how many remain, the finished ones how long a step takes) — it polls
//! sparsely until just before that moment, lands a poll right after it, then polls fast for
//! a while. Other tools poll every 5–60 s, so they either hammer the API or leave a hook
//! waiting for nothing.
//!
//! Terminal states come only from the run's status code (10, 20, 30). A 404 just after the
//! trigger is tolerated for a grace period (a new run can lag, even after one poll saw it);
//! transient failures are
//! retried by the client, so a dropped connection or read timeout does not end the wait.

use std::time::{Duration, Instant};

use super::client::Client;
use super::client::RunQuery;
use super::errors::ApiError;
use super::types::{Run, RunStatus, RunStep, Timestamp};

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

/// How long before the expected end the polls come every [`FAST`].
const LEAD: Duration = Duration::from_millis(500);
/// A poll lands this long after the expected end, so that when the run ends on time this
/// one poll sees it (and clocks a few milliseconds apart do not make it miss).
const LAND: Duration = Duration::from_millis(30);

/// The delay before the next poll. `in_state` is how long the run has been in its current
/// phase (queued/starting: since creation; running: since it started); `expected_running`
/// is when it should end, counted from its start.
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
                let window_start = expected.saturating_sub(LEAD);
                let landing = expected + LAND;
                let window_end = expected + (expected / 10).max(Duration::from_secs(5));
                if in_state < window_start {
                    // Sparse while the end is far: half the way there (never less than the
                    // proportional pace, never more than SLOWEST), and never past the window.
                    let to_window = window_start - in_state;
                    let delay = (to_window / 2).max(proportional).min(SLOWEST);
                    // A poll just short of the window would only add one.
                    if to_window.saturating_sub(delay) < Duration::from_secs(1) {
                        to_window
                    } else {
                        delay
                    }
                } else if in_state < landing {
                    // Every FAST, timed so that one poll lands right after the expected end.
                    let to_landing = landing - in_state;
                    if to_landing <= FAST {
                        return to_landing;
                    }
                    let phase =
                        Duration::from_secs_f64(to_landing.as_secs_f64() % FAST.as_secs_f64());
                    if phase < Duration::from_millis(100) {
                        phase + FAST
                    } else {
                        phase
                    }
                } else if in_state <= window_end {
                    FAST
                } else {
                    proportional
                }
            }
            None => proportional,
        },
    }
}

/// The delay before the next poll of `run`: [`next_poll`], expecting the end from the job's
/// history, else from the steps seen so far. Before any step has finished there is nothing to
/// expect; while the step running is not the last one, the run can only end by failing, so
/// it is looked at in proportion to its age (a quarter of it, at most SLOWEST) rather than
/// every FAST.
fn pace(run: &Run, status: RunStatus, in_state: Duration, history: Option<Duration>) -> Duration {
    if let Some(expected) = history.or_else(|| expected_from_steps(run)) {
        return next_poll(status, in_state, Some(expected));
    }
    if status == RunStatus::Running && more_steps_follow(run) {
        let age = run
            .created_at
            .and_then(|t| server_age(t.0))
            .unwrap_or(in_state);
        return (age / 4).clamp(FAST, SLOWEST);
    }
    next_poll(status, in_state, None)
}

/// The run's job has steps after the one running now.
fn more_steps_follow(run: &Run) -> bool {
    let (Some(job), Some(running)) = (
        run.job.as_ref(),
        run.steps()
            .iter()
            .filter(|s| s.run_status() == RunStatus::Running)
            .filter_map(|s| s.index)
            .max(),
    ) else {
        return false;
    };
    let Some(commands) = job.execute_steps.as_ref().map(Vec::len) else {
        return false;
    };
    let total = SETUP_STEPS
        + commands
        + usize::from(job.run_generate_sources == Some(true))
        + usize::from(job.generate_docs == Some(true));
    usize::try_from(running).is_ok_and(|i| i < total)
}

/// Steps every run has before the job's own commands: clone, profile, `dbt deps`.
const SETUP_STEPS: usize = 3;

/// When a running run should end (counted from its start), from its steps: the job says how
/// many steps there are (the setup steps, `dbt source freshness` when it generates sources,
/// its `execute_steps`, `dbt docs generate` when it generates docs), and the steps finished
/// so far how long one takes (the job's own commands from the commands finished, else from
/// every step finished). `None` until a step has finished, or once the last step has run
/// past its estimate (the schedule then backs off in proportion again).
pub fn expected_from_steps(run: &Run) -> Option<Duration> {
    let started = run.started_at?;
    let job = run.job.as_ref()?;
    let commands = job.execute_steps.as_ref()?.len()
        + usize::from(job.run_generate_sources == Some(true))
        + usize::from(job.generate_docs == Some(true));
    let steps = run.steps();
    let total = (SETUP_STEPS + commands).max(steps.len());
    let position = |s: &RunStep| s.index.map_or(0, |i| usize::try_from(i).unwrap_or(0));
    let finished: Vec<(usize, f64)> = steps
        .iter()
        .filter(|s| s.run_status().is_terminal())
        .filter_map(|s| Some((position(s), s.elapsed_seconds()?.max(0.0))))
        .collect();
    let mean = |of: &dyn Fn(usize) -> bool| {
        let d: Vec<f64> = finished
            .iter()
            .filter(|(i, _)| of(*i))
            .map(|(_, d)| *d)
            .collect();
        (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64)
    };
    let all = mean(&|_| true)?;
    let setup = mean(&|i| i <= SETUP_STEPS).unwrap_or(all);
    let command = mean(&|i| i > SETUP_STEPS).unwrap_or(all);
    let estimate = |i: usize| if i <= SETUP_STEPS { setup } else { command };
    let offset = |t: Option<Timestamp>| {
        t.map(|t| ((t.0 - started.0).num_milliseconds() as f64 / 1000.0).max(0.0))
    };
    // From the step running now (its start and estimate), else from the last one finished.
    let (from, last) = match steps
        .iter()
        .filter(|s| s.run_status() == RunStatus::Running)
        .max_by_key(|s| position(s))
    {
        Some(step) => {
            let i = position(step);
            let begun = offset(step.started_at)?;
            let age = server_age(started.0)?.as_secs_f64() - begun;
            if i >= total && age > estimate(i) {
                return None;
            }
            (begun + estimate(i).max(age), i)
        }
        None => {
            let last = steps.iter().map(position).max()?;
            let ended = steps
                .iter()
                .filter_map(|s| offset(s.finished_at))
                .fold(0.0, f64::max);
            (ended, last)
        }
    };
    let rest: f64 = (last + 1..=total).map(estimate).sum();
    Some(Duration::from_secs_f64(from + rest))
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
        let delay = pace(&run, status, in_state, options.expected_running);
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
    fn polls_sparsely_before_the_expected_end_lands_right_after_it_but_not_forever() {
        let expected = Some(secs(100.0));
        // Long before the end: half the way to the window (99.5 s), at most SLOWEST.
        assert_eq!(next_poll(RunStatus::Running, secs(50.0), expected), SLOWEST);
        assert_eq!(
            next_poll(RunStatus::Running, secs(80.0), expected),
            secs(9.75)
        );
        // Never past the window's start, and straight to it rather than just short of it.
        assert_eq!(
            next_poll(RunStatus::Running, secs(95.0), expected),
            secs(4.5)
        );
        // In the window: polls timed to land 30 ms after the expected end.
        let landing =
            |at: f64| at + next_poll(RunStatus::Running, secs(at), expected).as_secs_f64();
        assert!((landing(99.5) - 100.03).abs() < 1e-6, "{}", landing(99.5));
        assert!((landing(99.8) - 100.03).abs() < 1e-6, "{}", landing(99.8));
        // Then every FAST for a while, and back to proportional far past the end.
        assert_eq!(next_poll(RunStatus::Running, secs(100.1), expected), FAST);
        assert_eq!(next_poll(RunStatus::Running, secs(109.0), expected), FAST);
        assert_eq!(
            next_poll(RunStatus::Running, secs(200.0), expected),
            SLOWEST
        );
    }

    /// A running run started `age` s ago by dbt Cloud's clock, with `execute_steps` and
    /// `steps` as (start, end) offsets from its start (`None`: still running).
    fn running(age: f64, execute_steps: &[&str], steps: &[(f64, Option<f64>)]) -> Run {
        let started = chrono::Utc::now() - chrono::Duration::milliseconds((age * 1000.0) as i64);
        let at = |offset: f64| {
            (started + chrono::Duration::milliseconds((offset * 1000.0) as i64))
                .format("%Y-%m-%d %H:%M:%S%.6f+00:00")
                .to_string()
        };
        let steps: Vec<serde_json::Value> = steps
            .iter()
            .enumerate()
            .map(|(i, (from, to))| {
                serde_json::json!({
                    "index": i + 1,
                    "name": format!("step {}", i + 1),
                    "status": if to.is_some() { 10 } else { 3 },
                    "started_at": at(*from),
                    "finished_at": to.map(at),
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "id": 1,
            "status": 3,
            "started_at": at(0.0),
            "job": {"execute_steps": execute_steps},
            "run_steps": steps,
        }))
        .unwrap()
    }

    fn near(d: Option<Duration>, want: f64) -> bool {
        d.is_some_and(|d| (d.as_secs_f64() - want).abs() < 0.01)
    }

    #[test]
    fn a_run_without_history_is_expected_to_end_when_its_steps_say() {
        // Nothing finished yet: nothing to go by.
        let first = running(2.0, &["dbt build"], &[(0.0, None)]);
        assert_eq!(expected_from_steps(&first), None);
        // Three 5 s setup steps done, the first of two commands running since 15 s: each
        // command is expected to take 5 s too (no command has finished).
        let run = running(
            17.0,
            &["dbt seed", "dbt build"],
            &[
                (0.0, Some(5.0)),
                (5.0, Some(10.0)),
                (10.0, Some(15.0)),
                (15.0, None),
            ],
        );
        let got = expected_from_steps(&run);
        assert!(near(got, 25.0), "{got:?}");
        // Once a command finished (20 s), the next one is expected to take as long.
        let run = running(
            40.0,
            &["dbt seed", "dbt build"],
            &[
                (0.0, Some(1.0)),
                (1.0, Some(2.0)),
                (2.0, Some(3.0)),
                (3.0, Some(23.0)),
                (23.0, None),
            ],
        );
        let got = expected_from_steps(&run);
        assert!(near(got, 43.0), "{got:?}");
        // A step running past its estimate is expected to end now, the rest after it.
        let run = running(
            30.0,
            &["dbt seed", "dbt build"],
            &[
                (0.0, Some(1.0)),
                (1.0, Some(2.0)),
                (2.0, Some(3.0)),
                (3.0, None),
            ],
        );
        let got = expected_from_steps(&run);
        assert!(near(got, 31.0), "{got:?}");
        // The last step past its estimate: no expectation left (proportional again).
        let run = running(
            60.0,
            &["dbt seed", "dbt build"],
            &[
                (0.0, Some(1.0)),
                (1.0, Some(2.0)),
                (2.0, Some(3.0)),
                (3.0, Some(23.0)),
                (23.0, None),
            ],
        );
        assert_eq!(expected_from_steps(&run), None);
    }

    #[test]
    fn a_step_that_is_not_the_last_is_looked_at_in_proportion_to_the_runs_age() {
        let early = running(20.0, &["dbt build"], &[(0.0, None)]);
        let mut jobless = early.clone();
        jobless.job = None;
        let running = RunStatus::Running;
        assert_eq!(pace(&early, running, secs(20.0), None), secs(5.0));
        // Not knowing how many steps follow: the proportional pace.
        assert_eq!(pace(&jobless, running, secs(20.0), None), secs(2.0));
        // History first.
        let history = Some(secs(100.0));
        assert_eq!(
            pace(&early, running, secs(20.0), history),
            next_poll(running, secs(20.0), history)
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
        assert!(f64::from(minute) / 60.0 <= 0.5, "{minute} polls in 60 s");
        let long = polls(5.0, 655.0, Some(655.0));
        assert!(f64::from(long) / 660.0 <= 0.2, "{long} polls in 660 s");
        let unknown = polls(5.0, 655.0, None);
        assert!(
            f64::from(unknown) / 660.0 <= 0.2,
            "{unknown} polls in 660 s"
        );
    }
}
