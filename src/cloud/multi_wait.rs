//! Waiting for several runs at once: one list request per poll cycle for every pending run.
//!
//! `GET runs/?pk__in=[1,2,3]` (the spec's spelling of "id in") answers for all of them, so the
//! cost of waiting does not grow with the number of runs. The cycle's delay is the single
//! waiter's adaptive schedule ([`next_poll`]) for the run that needs the soonest look: the one
//! nearest its expected end, or freshest in its state. Each run has its own deadline (its
//! trigger time plus its timeout); a run past it is given up on while the others are still
//! awaited. A run missing from the answer just after its trigger is tolerated for a grace
//! period (a new run can lag in the list), and an outage of the API does not end the wait, as
//! in [`super::wait`]. Terminal states come only from the status code (10, 20, 30).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::client::{Client, RunQuery};
use super::errors::ApiError;
use super::types::{Run, RunStatus};
use super::wait::{is_outage, next_poll, sleep_until_next, time_in_state, FAST, OUTAGE_TOLERANCE};

/// How one awaited run ended.
#[derive(Debug, Clone)]
pub enum RunEnd {
    /// It reached 10, 20 or 30.
    Finished,
    /// Its deadline passed first (the run is left alone; the caller may cancel it).
    TimedOut,
}

/// A run being awaited: its last state seen and, once over, how it ended.
#[derive(Debug, Clone)]
pub struct Awaited {
    pub run: Run,
    /// Typical running time of the job's successful runs, if known (tunes the schedule).
    pub expected_running: Option<Duration>,
    /// Give up on this run at this moment.
    pub deadline: Option<Instant>,
    pub end: Option<RunEnd>,
    /// When the last status change was seen (our clock; the server's is preferred).
    seen_since: Instant,
    /// The status last seen in a poll (`None` until the first answer mentions the run).
    seen: Option<RunStatus>,
}

impl Awaited {
    pub fn new(run: Run, expected_running: Option<Duration>, deadline: Option<Instant>) -> Self {
        Awaited {
            run,
            expected_running,
            deadline,
            end: None,
            seen_since: Instant::now(),
            seen: None,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.end.is_none()
    }
}

/// What the waiter reports, each change once.
#[derive(Debug)]
pub enum MultiEvent<'a> {
    /// A run's status changed (also sent for the first status seen, and for the verdict).
    Status(&'a Run),
    /// A run's deadline passed before it finished.
    GaveUp(&'a Run),
}

#[derive(Debug, Default)]
pub struct MultiWaitStats {
    /// List requests sent (one per cycle while at most 100 runs are pending).
    pub polls: u32,
}

/// How long a run missing from the list answer is taken as "not visible yet".
const NOT_FOUND_GRACE: Duration = Duration::from_secs(15);
/// The list's page size: more pending runs than this take one request per page.
const PAGE: usize = 100;

/// Poll until every run in `runs` has finished or passed its deadline, reporting changes.
/// The states are updated in place, so a caller that stops waiting (Ctrl-C) still has the
/// last state of each run.
pub async fn wait_for_runs(
    client: &Client,
    runs: &mut [Awaited],
    stats: &mut MultiWaitStats,
    on_event: &mut dyn FnMut(MultiEvent<'_>),
) -> Result<(), ApiError> {
    let began = Instant::now();
    let mut outage_since: Option<Instant> = None;
    loop {
        let now = Instant::now();
        for a in runs.iter_mut().filter(|a| a.is_pending()) {
            if a.deadline.is_some_and(|d| now >= d) {
                a.end = Some(RunEnd::TimedOut);
                on_event(MultiEvent::GaveUp(&a.run));
            }
        }
        let pending: Vec<i64> = runs
            .iter()
            .filter(|a| a.is_pending())
            .map(|a| a.run.id)
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let next_deadline = runs
            .iter()
            .filter(|a| a.is_pending())
            .filter_map(|a| a.deadline)
            .min();
        stats.polls += u32::try_from(pending.len().div_ceil(PAGE)).unwrap_or(u32::MAX);
        let query = RunQuery {
            pk_in: pending.clone(),
            order_by: Some("id".into()),
            limit: pending.len(),
            include_related: vec!["job".into(), "trigger".into()],
            ..RunQuery::default()
        };
        // A request in flight never outlives the nearest deadline.
        let fetched = match next_deadline {
            Some(d) => tokio::time::timeout_at(d.into(), client.list_runs(&query))
                .await
                .ok(),
            None => Some(client.list_runs(&query).await),
        };
        let Some(fetched) = fetched else {
            continue; // the top of the loop gives up on the runs past their deadline
        };
        let listed = match fetched {
            Ok(listed) => listed,
            Err(e)
                if is_outage(&e)
                    && outage_since.get_or_insert_with(Instant::now).elapsed()
                        < OUTAGE_TOLERANCE =>
            {
                client.debug(&format!(
                    "dbt Cloud unavailable while waiting ({e}); still waiting"
                ));
                sleep_until_next(Duration::from_secs(5), next_deadline).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        outage_since = None;
        let mut by_id: BTreeMap<i64, Run> = listed.into_iter().map(|r| (r.id, r)).collect();
        let mut delay: Option<Duration> = None;
        for a in runs.iter_mut().filter(|a| a.is_pending()) {
            let Some(run) = by_id.remove(&a.run.id) else {
                // Also after the run was seen once: a read can hit a lagging replica.
                if began.elapsed() < NOT_FOUND_GRACE {
                    client.debug(&format!("run {} not listed yet", a.run.id));
                    delay = Some(FAST);
                    continue;
                }
                return Err(ApiError::NotFound {
                    what: format!("run {} in account {}", a.run.id, client.account_id()),
                    user_message: None,
                });
            };
            let status = run.run_status();
            let changed = a.seen != Some(status);
            a.run = run;
            if changed {
                a.seen = Some(status);
                a.seen_since = Instant::now();
                on_event(MultiEvent::Status(&a.run));
            }
            if status.is_terminal() {
                a.end = Some(RunEnd::Finished);
                continue;
            }
            let d = run_delay(
                status,
                time_in_state(&a.run, a.seen_since),
                a.expected_running,
            );
            delay = Some(delay.map_or(d, |x| x.min(d)));
        }
        if let Some(delay) = delay {
            let nearest = runs
                .iter()
                .filter(|a| a.is_pending())
                .filter_map(|a| a.deadline)
                .min();
            sleep_until_next(delay, nearest).await;
        }
    }
}

/// A run with no history to predict its end from is looked at at least this often. The single
/// wait backs off to 10 s for such a run (and can notice its end that late); here one request
/// serves every pending run and the budget for several jobs is 2 requests/s, so the wait can
/// afford to leave within a second of the last run ending (≤ 1.25 requests/s).
const NO_HISTORY_CAP: Duration = Duration::from_millis(800);

/// The delay before a run needs its next look: the single wait's schedule, capped for a run
/// without history.
fn run_delay(status: RunStatus, in_state: Duration, expected: Option<Duration>) -> Duration {
    let d = next_poll(status, in_state, expected);
    match expected {
        Some(_) => d,
        None => d.min(NO_HISTORY_CAP),
    }
}

/// The typical running time of each job's recent successful runs (median of up to 5), in
/// as few requests as the history allows: one list of the account's newest successful runs,
/// then one request per job it did not cover.
pub async fn expected_running_times(client: &Client, jobs: &[i64]) -> BTreeMap<i64, Duration> {
    let mut samples: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    let recent = client
        .list_runs(&RunQuery {
            status_in: vec![RunStatus::Success],
            order_by: Some("-id".into()),
            limit: PAGE,
            ..RunQuery::default()
        })
        .await
        .unwrap_or_default();
    for r in &recent {
        if let (Some(job), Some(secs)) = (r.job(), running_seconds(r)) {
            if jobs.contains(&job) {
                let s = samples.entry(job).or_default();
                if s.len() < 5 {
                    s.push(secs);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut looked_up = std::collections::BTreeSet::new();
    for &job in jobs {
        if out.contains_key(&job) || !looked_up.insert(job) {
            continue;
        }
        let expected = match samples.get(&job).and_then(|s| median(s.clone())) {
            Some(m) => Some(Duration::from_secs_f64(m)),
            None => super::wait::expected_running_time(client, job).await,
        };
        if let Some(d) = expected {
            out.insert(job, d);
        }
    }
    out
}

fn running_seconds(r: &Run) -> Option<f64> {
    let secs = (r.finished_at?.0 - r.started_at?.0).num_milliseconds() as f64 / 1000.0;
    (secs >= 0.0).then_some(secs)
}

fn median(mut secs: Vec<f64>) -> Option<f64> {
    if secs.is_empty() {
        return None;
    }
    secs.sort_by(f64::total_cmp);
    Some(secs[secs.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_history_is_looked_at_within_a_second_and_others_keep_the_schedule() {
        let long = Duration::from_secs(600);
        assert_eq!(run_delay(RunStatus::Running, long, None), NO_HISTORY_CAP);
        assert!(run_delay(RunStatus::Running, Duration::ZERO, None) <= NO_HISTORY_CAP);
        let expected = Some(Duration::from_secs(3600));
        assert_eq!(
            run_delay(RunStatus::Running, long, expected),
            next_poll(RunStatus::Running, long, expected)
        );
        assert!(run_delay(RunStatus::Running, long, expected) > Duration::from_secs(1));
    }

    #[test]
    fn median_of_samples() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
    }
}
