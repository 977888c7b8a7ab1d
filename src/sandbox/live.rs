//! The clock of a *live* run: instants a worker recorded as the run actually progressed
//! (picked off the queue, started, each step's start and end, finished).
//!
//! A planned (simulated) run derives its state from durations fixed up front; a live run cannot,
//! because nobody knows how long `git clone` or `dbt build` will take. Both produce the same
//! [`RunSnapshot`], so the API layer does not care which kind it reads. A user's cancel is
//! applied at the instant it arrives, exactly as for planned runs: the worker notices it a few
//! milliseconds later and kills what is running, but the API already says Cancelled.

use std::time::Duration;

use super::status::{RunSnapshot, RunStatus, StepEnd, StepPlan, StepSnapshot};

/// Instants (offsets from the run's creation) a worker has recorded so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveClock {
    /// Taken off the queue (status Starting from here).
    pub dequeued: Option<Duration>,
    /// Started executing (status Running from here).
    pub started: Option<Duration>,
    /// Start and (once done) end of each step in `RunPlan::steps`, same order.
    pub step_times: Vec<(Duration, Option<Duration>)>,
    /// Ended; the status is the last step's end (Error when there is no step).
    pub finished: Option<Duration>,
}

fn status_of(end: &StepEnd) -> RunStatus {
    match end {
        StepEnd::Success => RunStatus::Success,
        StepEnd::Error => RunStatus::Error,
        StepEnd::Cancelled => RunStatus::Cancelled,
    }
}

impl LiveClock {
    /// The run as it stands at `now`, given an optional user cancellation instant.
    pub fn snapshot(
        &self,
        steps: &[StepPlan],
        now: Duration,
        cancelled_at: Option<Duration>,
    ) -> RunSnapshot {
        let seen = |t: Option<Duration>, at: Duration| t.filter(|t| *t <= at);
        let cancel = cancelled_at
            .filter(|c| *c <= now)
            .filter(|c| self.finished.is_none_or(|f| *c < f));
        let horizon = cancel.unwrap_or(now);
        let step_snaps: Vec<StepSnapshot> = self
            .step_times
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s <= horizon)
            .map(|(i, (s, e))| {
                let end = seen(*e, horizon);
                let (status, finished) = match (end, cancel) {
                    (Some(e), _) => (
                        steps.get(i).map_or(RunStatus::Error, |p| status_of(&p.end)),
                        Some(e),
                    ),
                    (None, Some(c)) => (RunStatus::Cancelled, Some(c)),
                    (None, None) => (RunStatus::Running, None),
                };
                StepSnapshot {
                    position: i,
                    status,
                    started: *s,
                    finished,
                }
            })
            .collect();
        let finished = match cancel {
            Some(c) => Some(c),
            None => seen(self.finished, now),
        };
        let status = if cancel.is_some() {
            RunStatus::Cancelled
        } else if finished.is_some() {
            match (self.step_times.last(), steps.last()) {
                (Some(_), Some(last)) => status_of(&last.end),
                _ => RunStatus::Error,
            }
        } else if seen(self.started, now).is_some() {
            RunStatus::Running
        } else if seen(self.dequeued, now).is_some() {
            RunStatus::Starting
        } else {
            RunStatus::Queued
        };
        let updated = [self.dequeued, self.started, finished]
            .into_iter()
            .chain(self.step_times.iter().flat_map(|(s, e)| [Some(*s), *e]))
            .filter_map(|t| seen(t, horizon))
            .max()
            .unwrap_or_default();
        RunSnapshot {
            status,
            dequeued: seen(self.dequeued, horizon),
            started: seen(self.started, horizon),
            finished,
            updated,
            steps: step_snaps,
            cancelled: status == RunStatus::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(end: StepEnd) -> StepPlan {
        StepPlan {
            name: "s".into(),
            command: None,
            duration: Duration::ZERO,
            end,
            logs: String::new(),
            artifacts: vec![],
            nodes: vec![],
            debug_logs: None,
            files: None,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn follows_what_the_worker_recorded() {
        let mut c = LiveClock::default();
        assert_eq!(c.snapshot(&[], ms(5), None).status, RunStatus::Queued);
        c.dequeued = Some(ms(1));
        assert_eq!(c.snapshot(&[], ms(5), None).status, RunStatus::Starting);
        c.started = Some(ms(2));
        c.step_times.push((ms(2), None));
        let steps = [step(StepEnd::Success)];
        let s = c.snapshot(&steps, ms(5), None);
        assert_eq!(s.status, RunStatus::Running);
        assert_eq!(s.steps[0].status, RunStatus::Running);
        c.step_times[0].1 = Some(ms(8));
        c.finished = Some(ms(8));
        let s = c.snapshot(&steps, ms(9), None);
        assert_eq!(s.status, RunStatus::Success);
        assert_eq!(s.finished, Some(ms(8)));
    }

    #[test]
    fn a_cancel_wins_from_the_instant_it_arrives() {
        let c = LiveClock {
            dequeued: Some(ms(1)),
            started: Some(ms(2)),
            step_times: vec![(ms(2), Some(ms(3))), (ms(3), Some(ms(20)))],
            finished: Some(ms(20)),
        };
        let steps = [step(StepEnd::Success), step(StepEnd::Cancelled)];
        let s = c.snapshot(&steps, ms(30), Some(ms(10)));
        assert_eq!(s.status, RunStatus::Cancelled);
        assert_eq!(s.finished, Some(ms(10)));
        assert_eq!(s.steps[0].status, RunStatus::Success);
        assert_eq!(s.steps[1].status, RunStatus::Cancelled);
        // No step recorded yet: a failure before any step is an error.
        let early = LiveClock {
            finished: Some(ms(1)),
            ..LiveClock::default()
        };
        assert_eq!(early.snapshot(&[], ms(2), None).status, RunStatus::Error);
    }
}
