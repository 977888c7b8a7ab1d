//! Several jobs (`--target dev --target prod`, `--job-id` repeated). Each job is triggered at
//! most once, exactly as one job is; then every run is awaited with one list request per poll
//! cycle (`cloud::multi_wait`). `sequential` follows each run as one job is followed and
//! triggers the next one only after it succeeded.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::cloud::multi_wait::{self, Awaited, MultiEvent, MultiWaitStats, RunEnd};
use crate::cloud::verdict::{finish_within, Finished};
use crate::cloud::RunStatus;

use super::clock::{deadline_of, within, HISTORY_LIMIT};
use super::deployment::Deployment;
use super::error::DeployError;
use super::event::Event;
use super::follow::wrong_commit;
use super::plan::{ManyOptions, Unit};
use super::verdict::{Ending, ManyVerdict, Outcome, UnitEnd};

impl Deployment<'_> {
    /// Trigger every unit's job, then (with `options.wait`) wait for all of them.
    pub async fn run_many<'u>(
        &mut self,
        units: &'u [Unit],
        options: ManyOptions,
    ) -> Result<ManyVerdict<'u>, DeployError> {
        if options.sequential {
            return self.sequential(units).await;
        }
        if options.wait && units.iter().any(|u| u.plan.retries > 0) {
            self.emit(Event::RetriesNotApplied);
        }
        let mut awaited: Vec<Awaited> = Vec::new();
        for unit in units {
            let deadline = deadline_of(unit.plan.timeout);
            match self.trigger(&unit.plan, deadline).await {
                Ok(run) => awaited.push(Awaited::new(run, None, deadline)),
                Err(e) => return Err(with_triggered_so_far(e, units, &awaited)),
            }
        }
        if !options.wait {
            let mut ended = Vec::new();
            for (unit, a) in units.iter().zip(awaited) {
                let url = self.url_of(&a.run);
                self.emit(Event::Left {
                    run: &a.run,
                    url: &url,
                    label: Some(&unit.label),
                });
                ended.push((unit, UnitEnd::Ended(Box::new(Ending::Triggered(a.run)))));
            }
            return Ok(ManyVerdict {
                units: ended,
                stopped: false,
            });
        }
        self.expect_durations(units, &mut awaited).await;
        let labels: BTreeMap<i64, &str> = units
            .iter()
            .zip(&awaited)
            .map(|(u, a)| (a.run.id, u.label.as_str()))
            .collect();
        let reporter = self.reporter;
        let label_of = |id: i64| labels.get(&id).copied().unwrap_or_default();
        let mut on_event = |e: MultiEvent<'_>| match e {
            MultiEvent::Status(run) => reporter.report(&Event::Status {
                run,
                label: Some(label_of(run.id)),
            }),
            MultiEvent::GaveUp(run) => reporter.report(&Event::GaveUp {
                run,
                label: label_of(run.id),
            }),
        };
        let mut stats = MultiWaitStats::default();
        let client = self.client;
        let waited = tokio::select! {
            r = multi_wait::wait_for_runs(client, &mut awaited, &mut stats, &mut on_event) => Some(r),
            _ = self.interrupt.requested() => None,
        };
        client.debug(&format!(
            "{} list requests for {} runs",
            stats.polls,
            awaited.len()
        ));
        let stopped = match waited {
            Some(Err(e)) => return Err(with_triggered_so_far(e.into(), units, &awaited)),
            None => true,
            Some(Ok(())) => false,
        };
        let mut ended = Vec::new();
        let mut wrong = Vec::new();
        for (unit, a) in units.iter().zip(awaited) {
            let ending = if stopped && a.is_pending() {
                self.interrupted_unit(unit, a).await
            } else {
                if matches!(a.end, Some(RunEnd::Finished)) {
                    wrong.extend(wrong_commit(&unit.plan.request, &a.run));
                }
                self.verdict_of(unit, a).await
            };
            ended.push((unit, UnitEnd::Ended(Box::new(ending))));
        }
        // Every verdict is shown first; a run that built another commit than asked still
        // makes the whole an error, as it does for one job.
        if let Some(e) = wrong_commits(wrong) {
            return Err(e);
        }
        Ok(ManyVerdict {
            units: ended,
            stopped,
        })
    }

    /// The jobs' typical durations (they tune the poll schedule), within [`HISTORY_LIMIT`].
    async fn expect_durations(&self, units: &[Unit], awaited: &mut [Awaited]) {
        let jobs: Vec<i64> = units.iter().map(|u| u.plan.job_id).collect();
        let history_by = Instant::now() + HISTORY_LIMIT;
        let expected = within(
            Some(history_by),
            multi_wait::expected_running_times(self.client, &jobs),
        )
        .await
        .unwrap_or_default();
        for (a, job) in awaited.iter_mut().zip(&jobs) {
            a.expected_running = expected.get(job).copied();
        }
    }

    /// Each job after the previous one succeeded, each followed as one job is (steps, node
    /// summary, retries); the rest are not triggered after a failure.
    async fn sequential<'u>(&mut self, units: &'u [Unit]) -> Result<ManyVerdict<'u>, DeployError> {
        let mut ended = Vec::new();
        let mut stopped: Option<Outcome> = None;
        for unit in units {
            if let Some(after) = stopped {
                self.emit(Event::NotTriggered {
                    label: &unit.label,
                    after,
                });
                ended.push((unit, UnitEnd::NotTriggered));
                continue;
            }
            let deadline = deadline_of(unit.plan.timeout);
            let run = self.trigger(&unit.plan, deadline).await?;
            let url = self.url_of(&run);
            self.emit(Event::Link {
                run: &run,
                url: &url,
            });
            let verdict = self.follow(&unit.plan, run, deadline).await?;
            let outcome = verdict.outcome();
            if outcome != Outcome::Success {
                stopped = Some(outcome);
            }
            ended.push((unit, UnitEnd::Followed(verdict)));
            if outcome == Outcome::Interrupted {
                return Ok(ManyVerdict {
                    units: ended,
                    stopped: true,
                });
            }
        }
        Ok(ManyVerdict {
            units: ended,
            stopped: false,
        })
    }

    /// A finished or timed-out run's verdict. Nodes are read only for a run that ended in
    /// Error (its failing nodes): the summary of fifty successful runs is not worth a hundred
    /// more requests.
    async fn verdict_of(&self, unit: &Unit, a: Awaited) -> Ending {
        if matches!(a.end, Some(RunEnd::TimedOut)) {
            return self.timed_out_unit(unit, a).await;
        }
        let (run, finished) = if a.run.run_status() == RunStatus::Error {
            // The list does not carry steps: read the run with them (once) to find what failed.
            let read = self
                .client
                .get_run(a.run.id, &["run_steps", "job", "trigger"]);
            let run = match within(a.deadline, read).await {
                Some(Ok(run)) => run,
                _ => a.run,
            };
            let finished = finish_within(self.client, &unit.plan.store, &run, a.deadline).await;
            (run, finished)
        } else {
            let nothing = Finished {
                insight: None,
                insight_error: None,
                failure: None,
            };
            (a.run, nothing)
        };
        self.emit(Event::Verdict {
            run: &run,
            finished: &finished,
            retry_hint: true,
            label: Some(&unit.label),
        });
        Ending::Finished {
            run,
            finished: Box::new(finished),
        }
    }

    async fn timed_out_unit(&self, unit: &Unit, a: Awaited) -> Ending {
        let limit = unit.plan.limit_text();
        let (run, cancelled) = if unit.plan.cancel_on_timeout {
            self.cancel(a.run, &format!("gave up after {limit}")).await
        } else {
            (a.run, false)
        };
        let url = self.url_of(&run);
        self.emit(Event::TimedOut {
            run: &run,
            url: &url,
            limit: &limit,
            cancel_asked: unit.plan.cancel_on_timeout,
            cancelled,
            label: Some(&unit.label),
        });
        Ending::TimedOut { run, cancelled }
    }

    async fn interrupted_unit(&self, unit: &Unit, a: Awaited) -> Ending {
        let url = self.url_of(&a.run);
        self.emit(Event::Interrupted {
            run: &a.run,
            url: &url,
            cancelling: unit.plan.cancel_on_interrupt,
            label: Some(&unit.label),
        });
        let (run, cancelled) = if unit.plan.cancel_on_interrupt {
            self.cancel(a.run, "interrupted").await
        } else {
            (a.run, false)
        };
        Ending::Interrupted { run, cancelled }
    }
}

/// A failure after some runs were triggered names them: they keep running.
fn with_triggered_so_far(e: DeployError, units: &[Unit], awaited: &[Awaited]) -> DeployError {
    if awaited.is_empty() {
        return e;
    }
    let list: Vec<String> = units
        .iter()
        .zip(awaited)
        .map(|(u, a)| format!("run {} ({})", a.run.id, u.label))
        .collect();
    e.with_hint(format!(
        "already triggered, still running: {}",
        list.join(", ")
    ))
}

/// The runs that built another commit than asked, as one error (the first one's hint).
fn wrong_commits(mut wrong: Vec<DeployError>) -> Option<DeployError> {
    if wrong.len() <= 1 {
        return wrong.pop();
    }
    let messages: Vec<String> = wrong.iter().map(|e| e.message.clone()).collect();
    let mut first = wrong.swap_remove(0);
    first.message = messages.join("; ");
    Some(first)
}
