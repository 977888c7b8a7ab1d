//! One job: trigger, wait for the verdict, retry an Error from its point of failure.

use std::time::Instant;

use crate::cloud::retries::{self, RetryRoute};
use crate::cloud::verdict::finish_within;
use crate::cloud::wait::{self, WaitEnd, WaitEvent, WaitOptions, WaitStats};
use crate::cloud::{ApiError, Client, Run, RunStatus};

use super::clock::{deadline_of, earliest, within, HISTORY_LIMIT};
use super::deployment::Deployment;
use super::error::DeployError;
use super::event::{Event, Reporter};
use super::plan::RunPlan;
use super::verdict::{Attempt, Ending, RetryTaken, Verdict};

impl Deployment<'_> {
    /// Trigger `plan`'s job and, when it waits, follow the run to its verdict.
    ///
    /// `plan.timeout` is a deadline for all of it, requests included: the trigger (with any
    /// look-up after a lost answer) and the wait. Whatever a request is doing, the deployment
    /// gives up at the deadline, then cancels the run if asked, within a few seconds.
    pub async fn run_one(&mut self, plan: &RunPlan) -> Result<Verdict, DeployError> {
        let deadline = deadline_of(plan.timeout);
        let run = self.trigger(plan, deadline).await?;
        let url = self.url_of(&run);
        self.emit(Event::Link {
            run: &run,
            url: &url,
        });
        if !plan.wait {
            self.emit(Event::Left {
                run: &run,
                url: &url,
                label: None,
            });
            return Ok(Verdict {
                attempts: vec![Attempt::ended(Ending::Triggered(run))],
            });
        }
        self.follow(plan, run, deadline).await
    }

    /// Wait for `first`'s verdict; on Error retry it from the point of failure up to
    /// `plan.retries` times (never after a cancellation or the deadline). The verdict is the
    /// last attempt's; every attempt is kept.
    pub async fn follow(
        &mut self,
        plan: &RunPlan,
        first: Run,
        deadline: Option<Instant>,
    ) -> Result<Verdict, DeployError> {
        let mut run = first;
        let mut request = plan.request.clone();
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut retried = 0u32;
        loop {
            let url = self.url_of(&run);
            let mut stats = WaitStats::default();
            let (client, reporter) = (self.client, self.reporter);
            let waited = tokio::select! {
                r = wait(client, reporter, plan.job_id, &run, deadline, &mut stats) => Some(r),
                _ = self.interrupt.requested() => None,
            };
            // After a stop signal the last state the waiter saw, else the run waited for.
            let last = stats.last.take().unwrap_or_else(|| run.clone());
            let done = match waited {
                None => {
                    attempts.push(Attempt::ended(self.interrupted(plan, last, &url).await));
                    return Ok(Verdict { attempts });
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(WaitEnd::TimedOut(seen))) => {
                    let ending = self.timed_out(plan, seen.unwrap_or(last), &url).await;
                    attempts.push(Attempt::ended(ending));
                    return Ok(Verdict { attempts });
                }
                Some(Ok(WaitEnd::Finished(done))) => done,
            };
            if let Some(e) = wrong_commit(&request, &done) {
                return Err(e);
            }
            let finished = finish_within(self.client, &plan.store, &done, deadline).await;
            // No retry once the deadline has passed: the verdict and its exit code stand.
            let in_time = deadline.is_none_or(|d| Instant::now() < d);
            let will_retry =
                done.run_status() == RunStatus::Error && retried < plan.retries && in_time;
            self.emit(Event::Verdict {
                run: &done,
                finished: &finished,
                retry_hint: !will_retry,
                label: None,
            });
            let mut attempt = Attempt::ended(Ending::Finished {
                run: done,
                finished: Box::new(finished),
            });
            if !will_retry {
                attempts.push(attempt);
                return Ok(Verdict { attempts });
            }
            let (done, insight) = match &attempt.ending {
                Ending::Finished { run, finished } => (run, finished.insight.as_ref()),
                _ => unreachable!("a retry follows a finished run"),
            };
            let rplan = match retries::plan(done, insight) {
                Ok(rplan) => rplan,
                Err(why) => {
                    self.emit(Event::NotRetried {
                        run: done,
                        why: &why,
                    });
                    attempt.not_retried = Some(why);
                    attempts.push(attempt);
                    return Ok(Verdict { attempts });
                }
            };
            let job = done.job().unwrap_or(plan.job_id);
            let started = self
                .start_retry(job, done, &rplan, &request, deadline)
                .await?;
            retried += 1;
            self.emit(Event::Retry {
                attempt: retried,
                of: plan.retries,
                failed: done,
                started: &started.run,
                plan: &rplan,
                adopted: started.adopted,
            });
            if let RetryRoute::Selected { steps_override } = &rplan.route {
                request.steps_override = Some(steps_override.clone());
            }
            attempt.retry = Some(RetryTaken {
                plan: rplan,
                run_id: started.run.id,
                adopted: started.adopted,
            });
            attempts.push(attempt);
            run = started.run;
        }
    }

    /// A stop signal while waiting: leave the run, or cancel it with --cancel-on-interrupt.
    async fn interrupted(&self, plan: &RunPlan, last: Run, url: &str) -> Ending {
        self.emit(Event::Interrupted {
            run: &last,
            url,
            cancelling: plan.cancel_on_interrupt,
            label: None,
        });
        let (run, cancelled) = if plan.cancel_on_interrupt {
            self.cancel(last, "interrupted").await
        } else {
            (last, false)
        };
        Ending::Interrupted { run, cancelled }
    }

    /// The deadline passed while waiting: leave the run, or cancel it with --cancel-on-timeout.
    async fn timed_out(&self, plan: &RunPlan, last: Run, url: &str) -> Ending {
        let limit = plan.limit_text();
        let (run, cancelled) = if plan.cancel_on_timeout {
            self.cancel(last, &format!("gave up after {limit}")).await
        } else {
            (last, false)
        };
        self.emit(Event::TimedOut {
            run: &run,
            url,
            limit: &limit,
            cancel_asked: plan.cancel_on_timeout,
            cancelled,
            label: None,
        });
        Ending::TimedOut { run, cancelled }
    }
}

impl Attempt {
    pub(crate) fn ended(ending: Ending) -> Attempt {
        Attempt {
            ending,
            retry: None,
            not_retried: None,
        }
    }
}

/// Wait for the verdict within the deadline, after learning the job's typical duration
/// (a hint for the poll schedule, so it may take at most [`HISTORY_LIMIT`]).
async fn wait(
    client: &Client,
    reporter: &dyn Reporter,
    job_id: i64,
    run: &Run,
    deadline: Option<Instant>,
    stats: &mut WaitStats,
) -> Result<WaitEnd, ApiError> {
    let history_by = earliest(deadline, Instant::now() + HISTORY_LIMIT);
    let expected = within(
        Some(history_by),
        wait::expected_running_time(client, job_id),
    )
    .await
    .flatten();
    let options = WaitOptions {
        deadline,
        expected_running: expected,
        ..WaitOptions::default()
    };
    let run_id = run.id;
    let mut on_event = |event: WaitEvent<'_>| {
        reporter.report(&match event {
            WaitEvent::Status(run) => Event::Status { run, label: None },
            WaitEvent::Step(step) => Event::Step { run_id, step },
            WaitEvent::Polled(run) => Event::Heartbeat { run },
        })
    };
    wait::wait_for_run(client, run.id, &options, stats, &mut on_event).await
}

/// A run that reports another commit than the one asked for (`git_sha` of the trigger): an
/// error naming both, since its verdict says nothing about the asked commit. Unknown on
/// either side (no sha asked, none reported yet) is not a mismatch; a short sha matches the
/// full one it starts.
pub(super) fn wrong_commit(
    request: &crate::cloud::TriggerRequest,
    run: &crate::cloud::Run,
) -> Option<DeployError> {
    let asked = request.git_sha.as_deref()?.trim().to_ascii_lowercase();
    let built = run.git_sha.as_deref()?.trim().to_ascii_lowercase();
    if asked.is_empty()
        || built.is_empty()
        || asked.starts_with(&built)
        || built.starts_with(&asked)
    {
        return None;
    }
    Some(
        DeployError::new(
            super::error::Failure::WrongCommit,
            format!(
                "run {} built commit {built}, not the commit asked for ({asked}): its verdict does not validate {asked}",
                run.id
            ),
        )
        .with_hint(format!(
            "check that {asked} is on the remote dbt Cloud clones (a force-push or a job pinned to a branch can change what is built), then trigger again"
        )),
    )
}
