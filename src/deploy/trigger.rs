//! Triggering (and starting a retry) within the deadline and until a stop signal: at most one
//! run per trigger, and a clear word on what may exist when the answer never came.

use std::time::Instant;

use crate::cloud::retries::{self, RetryPlan, RetryStarted};
use crate::cloud::{trigger_run, Run, TriggerRequest};

use super::clock::within;
use super::deployment::Deployment;
use super::error::{DeployError, Failure};
use super::event::Event;
use super::plan::RunPlan;

impl Deployment<'_> {
    /// The trigger of `plan`'s job: the run it created.
    pub async fn trigger(
        &mut self,
        plan: &RunPlan,
        deadline: Option<Instant>,
    ) -> Result<Run, DeployError> {
        let job = plan.job_id;
        let may_exist =
            format!("check `datachonk cloud runs list --job-id {job}` before triggering again");
        let client = self.client;
        let triggered = tokio::select! {
            r = within(deadline, trigger_run(client, job, &plan.request)) => r,
            _ = self.interrupt.requested() => return Err(DeployError::new(
                Failure::Stopped,
                format!("interrupted while triggering job {job}: a run may have been created"),
            ).with_hint(may_exist)),
        };
        let Some(triggered) = triggered else {
            return Err(DeployError::new(
                Failure::Deadline,
                format!(
                    "gave up after {}: dbt Cloud did not confirm the trigger of job {job} in time, \
                     so a run may have been created",
                    plan.limit_text()
                ),
            )
            .with_hint(may_exist));
        };
        let triggered = triggered?;
        client.debug(&format!("cause sent: {}", triggered.cause));
        self.emit(Event::Triggered {
            job_id: job,
            run: &triggered.run,
            adopted: triggered.adopted,
        });
        Ok(triggered.run)
    }

    /// Start the retry `rplan` of `failed` (a run of `job`).
    pub(crate) async fn start_retry(
        &mut self,
        job: i64,
        failed: &Run,
        rplan: &RetryPlan,
        request: &TriggerRequest,
        deadline: Option<Instant>,
    ) -> Result<RetryStarted, DeployError> {
        let may_exist = format!(
            "check `datachonk cloud runs list --job-id {job}` before retrying run {} again",
            failed.id
        );
        let client = self.client;
        let started = tokio::select! {
            r = within(deadline, retries::start(client, job, failed, rplan, request)) => r,
            _ = self.interrupt.requested() => return Err(DeployError::new(
                Failure::Stopped,
                format!("interrupted while retrying run {}: a run may have been created", failed.id),
            ).with_hint(may_exist)),
        };
        let Some(started) = started else {
            return Err(DeployError::new(
                Failure::Deadline,
                format!(
                    "gave up at the deadline: dbt Cloud did not confirm the retry of run {} in time, \
                     so a run may have been created",
                    failed.id
                ),
            )
            .with_hint(may_exist));
        };
        Ok(started?)
    }
}
