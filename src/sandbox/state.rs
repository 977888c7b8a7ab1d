//! The sandbox's mutable state: the runs created so far, and the public summaries that the
//! library API and the `/_sandbox/runs` admin endpoint expose.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::executor::{Executor, RunPlan, RunRequest, RunSnapshot, RunStatus};
use super::fixture::{Fixture, Outcome, RunBehaviour};
use super::trigger::TriggerRequest;
use super::work_order::WorkOrder;

/// One run: what was asked, the executor's plan, and what users did to it since.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: i64,
    pub trigger_id: i64,
    pub account_id: i64,
    pub project_id: i64,
    pub environment_id: i64,
    pub job_id: i64,
    pub trigger: TriggerRequest,
    /// `api` for triggers, `rerun` for retries.
    pub cause_category: String,
    pub created_at: DateTime<Utc>,
    pub created: Instant,
    pub plan: RunPlan,
    /// Id of step 1; later steps follow consecutively.
    pub first_step_id: i64,
    /// When a user cancelled it, as an offset from creation.
    pub cancelled_after: Option<Duration>,
    /// Why it was cancelled when not by a user (a newer run of the same pull request).
    pub cancel_reason: Option<String>,
    /// The run created by retrying this one.
    pub retrying_run_id: Option<i64>,
    /// The run this one retries.
    pub retry_of: Option<i64>,
    /// A newer run of the same job exists (dbt Cloud retries only a job's latest run).
    pub superseded: bool,
    /// A live run's instructions, until its worker takes them (see `worker::launch`).
    pub work: Option<Box<WorkOrder>>,
}

impl Run {
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    pub fn snapshot(&self, now: Instant) -> RunSnapshot {
        self.plan.snapshot(self.elapsed(now), self.cancelled_after)
    }

    /// Wall-clock time of an offset from creation.
    pub fn at(&self, offset: Duration) -> DateTime<Utc> {
        self.created_at + chrono::Duration::from_std(offset).unwrap_or_default()
    }

    pub fn summary(&self, now: Instant) -> RunSummary {
        let snap = self.snapshot(now);
        RunSummary {
            id: self.id,
            account_id: self.account_id,
            project_id: self.project_id,
            environment_id: self.environment_id,
            job_id: self.job_id,
            status: snap.status,
            status_humanized: snap.status.humanized().to_string(),
            trigger: self.trigger.clone(),
            cause_category: self.cause_category.clone(),
            steps: self.plan.steps.iter().map(|s| s.name.clone()).collect(),
            created_at: self.created_at,
            finished_at: snap.finished.map(|f| self.at(f)),
            retry_of: self.retry_of,
            retrying_run_id: self.retrying_run_id,
        }
    }
}

/// A run as the library API and `GET /_sandbox/runs` report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: i64,
    pub account_id: i64,
    pub project_id: i64,
    pub environment_id: i64,
    pub job_id: i64,
    /// Serialised as the numeric code (1, 2, 3, 10, 20, 30).
    pub status: RunStatus,
    pub status_humanized: String,
    /// The trigger request as the sandbox received it.
    pub trigger: TriggerRequest,
    pub cause_category: String,
    /// Names of the steps the run executes (up to the one that ends it).
    pub steps: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub retry_of: Option<i64>,
    pub retrying_run_id: Option<i64>,
}

/// Why a run could not be created.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RunCreateError {
    #[error("job {0} does not exist")]
    UnknownJob(i64),
}

/// All runs, by id (ids ascend with creation).
#[derive(Debug)]
pub struct RunStore {
    pub runs: BTreeMap<i64, Run>,
    next_run_id: i64,
    next_step_id: i64,
}

impl RunStore {
    pub fn new(first_run_id: i64) -> Self {
        RunStore {
            runs: BTreeMap::new(),
            next_run_id: first_run_id,
            next_step_id: 1,
        }
    }

    pub fn get(&self, id: i64) -> Option<&Run> {
        self.runs.get(&id)
    }

    /// Create a run of `job_id` for `trigger`. `retry_of` makes it a retry: it re-runs from
    /// the failed step with the job's `retry_outcome`.
    pub fn create(
        &mut self,
        fixture: &Fixture,
        executor: &Executor,
        job_id: i64,
        trigger: TriggerRequest,
        retry_of: Option<i64>,
    ) -> Result<&Run, RunCreateError> {
        let job = fixture
            .job(job_id)
            .ok_or(RunCreateError::UnknownJob(job_id))?;
        let project = fixture
            .project(job.project_id)
            .ok_or(RunCreateError::UnknownJob(job_id))?;
        let environment = fixture
            .environment(job.environment_id)
            .ok_or(RunCreateError::UnknownJob(job_id))?;

        let retried = retry_of.and_then(|id| self.runs.get(&id));
        let commands = match retried {
            Some(old) => retry_commands(old, job.execute_steps.clone()),
            None => trigger
                .steps_override
                .clone()
                .unwrap_or_else(|| job.execute_steps.clone()),
        };
        let earlier_runs = self.runs.values().filter(|r| r.job_id == job_id).count();
        let behaviour = behaviour_of(&job.run, retried.is_some(), earlier_runs);
        let retry_nodes = retried.and_then(|old| old.plan.steps.last()).map(|failed| {
            failed
                .nodes
                .iter()
                .filter(|n| !matches!(n.status, "success" | "pass" | "warn"))
                .map(|n| n.unique_id.clone())
                .collect::<Vec<_>>()
        });
        let retry_state = retried
            .and_then(|old| old.plan.steps.last())
            .and_then(|failed| failed.files.clone());
        let dbt_version = trigger
            .dbt_version_override
            .clone()
            .or_else(|| job.dbt_version.clone())
            .unwrap_or_else(|| environment.dbt_version.clone());
        let request = RunRequest {
            job,
            project,
            environment,
            commands,
            git_sha: trigger.git_sha.clone(),
            git_branch: trigger.git_branch.clone(),
            generate_docs: trigger.generate_docs_override.unwrap_or(job.generate_docs),
            dbt_version,
            model_files: &[],
            seeds: &[],
            tests: &[],
            behaviour,
            retry_nodes: retry_nodes.clone(),
        };
        let plan = executor.plan(&request);

        let id = self.next_run_id;
        self.next_run_id += 1;
        let first_step_id = self.next_step_id;
        let work = plan.live.is_some().then(|| {
            Box::new(WorkOrder {
                run_id: id,
                executor: executor.clone(),
                job: job.clone(),
                project: project.clone(),
                environment: environment.clone(),
                commands: request.commands.clone(),
                git_sha: request.git_sha.clone(),
                git_branch: request.git_branch.clone(),
                generate_docs: request.generate_docs,
                behaviour: request.behaviour.clone(),
                dbt_version: request.dbt_version.clone(),
                threads: trigger.threads_override.unwrap_or(job.threads),
                target_name: trigger
                    .target_name_override
                    .clone()
                    .unwrap_or_else(|| job.target_name.clone()),
                schema: trigger.schema_override.clone(),
                timeout: Some(
                    trigger
                        .timeout_seconds_override
                        .unwrap_or(job.timeout_seconds),
                )
                .filter(|s| *s > 0)
                .map(|s| Duration::from_secs(s.unsigned_abs())),
                retry_state,
                retry_nodes,
            })
        });
        // A live run's steps are not known yet: reserve ids for every step it can have
        // (clone, profile, deps, freshness, the commands, docs).
        let steps = match &work {
            Some(w) => w.commands.len() + 5,
            None => plan.steps.len(),
        };
        self.next_step_id += i64::try_from(steps).unwrap_or(0) + 1;
        let run = Run {
            id,
            trigger_id: id,
            account_id: project.account_id,
            project_id: project.id,
            environment_id: environment.id,
            job_id,
            trigger,
            cause_category: if retry_of.is_some() { "rerun" } else { "api" }.into(),
            created_at: Utc::now(),
            created: Instant::now(),
            plan,
            first_step_id,
            cancelled_after: None,
            cancel_reason: None,
            retrying_run_id: None,
            retry_of,
            superseded: false,
            work,
        };
        // A CI job builds a pull request's latest commit: a new run of the same pull request
        // cancels the ones still queued or running (dbt Cloud's CI runs do).
        if let Some(pr) = run.trigger.pull_request() {
            let now = Instant::now();
            for older in self.runs.values_mut().filter(|r| {
                r.job_id == job_id
                    && r.trigger.pull_request() == Some(pr)
                    && !r.snapshot(now).status.is_terminal()
            }) {
                older.cancelled_after = Some(older.elapsed(now));
                older.cancel_reason = Some(format!(
                    "Cancelled: run {id} of the same pull request replaced it."
                ));
            }
        }
        for older in self.runs.values_mut().filter(|r| r.job_id == job_id) {
            older.superseded = true;
        }
        if let Some(old) = retry_of.and_then(|old| self.runs.get_mut(&old)) {
            old.retrying_run_id = Some(id);
        }
        Ok(self.runs.entry(id).or_insert(run))
    }

    /// Cancel a run now; a finished run is left as it is.
    pub fn cancel(&mut self, id: i64, now: Instant) -> Option<&Run> {
        let run = self.runs.get_mut(&id)?;
        if !run.snapshot(now).status.is_terminal() {
            run.cancelled_after = Some(run.elapsed(now));
        }
        Some(run)
    }

    /// The run a step id belongs to, and the step's position, if the step exists yet.
    pub fn find_step(&self, step_id: i64, now: Instant) -> Option<(&Run, usize)> {
        self.runs.values().find_map(|run| {
            let position = usize::try_from(step_id - run.first_step_id).ok()?;
            run.snapshot(now)
                .steps
                .iter()
                .any(|s| s.position == position)
                .then_some((run, position))
        })
    }

    pub fn clear(&mut self) {
        self.runs.clear();
    }
}

/// The commands a retry re-runs: the failed step's command and the ones it skipped; when the
/// failure happened before any dbt command (clone, profile, deps), all of them.
fn retry_commands(old: &Run, job_steps: Vec<String>) -> Vec<String> {
    let failed = old.plan.steps.last();
    let mut commands: Vec<String> = failed
        .into_iter()
        .chain(old.plan.skipped.iter())
        .filter_map(|s| s.command.clone())
        .filter(|c| c != "dbt deps" && c != "dbt docs generate" && c != "dbt source freshness")
        .collect();
    if commands.is_empty() {
        commands = old.trigger.steps_override.clone().unwrap_or(job_steps);
    }
    commands
}

/// How the next run of a job behaves: the job's behaviour, a retry's (`retry_outcome`, from
/// the failed step), or with `fail_times: N` the job's `outcome` for its first N runs and
/// success after.
fn behaviour_of(job: &RunBehaviour, retry: bool, earlier_runs: usize) -> RunBehaviour {
    let outcome = match job.fail_times {
        Some(n) if earlier_runs >= n as usize => Outcome::Success,
        Some(_) => job.outcome,
        None if retry => job.retry_outcome,
        None => job.outcome,
    };
    RunBehaviour {
        outcome,
        failing_step: if retry { None } else { job.failing_step },
        ..job.clone()
    }
}

/// Whether a run can be retried from its failure: it errored, was not retried yet, and ran
/// a dbt that has `dbt retry` (1.6 and later; `latest`/`versionless` do).
pub fn can_retry(run: &Run, snap: &RunSnapshot) -> bool {
    retry_refusal(run, snap).is_none() && snap.status.is_terminal()
}

/// Why a finished run cannot be retried (`retry_not_supported_reason`), `None` when it can
/// (or is not finished yet).
pub fn retry_refusal(run: &Run, snap: &RunSnapshot) -> Option<&'static str> {
    if !snap.status.is_terminal() {
        return None;
    }
    if snap.status != RunStatus::Error {
        Some("RETRY_NOT_FAILED_RUN")
    } else if run.retrying_run_id.is_some() || run.superseded {
        Some("RETRY_NOT_LATEST_RUN")
    } else if !retry_supported_by(&run.plan.dbt_version) {
        Some("RETRY_UNSUPPORTED_VERSION")
    } else {
        None
    }
}

/// dbt Cloud retries need dbt ≥ 1.6 (`1.5.0-latest` cannot; `latest`, `versionless` can).
pub fn retry_supported_by(dbt_version: &str) -> bool {
    let mut parts = dbt_version.split(['.', '-']);
    match (
        parts.next().and_then(|p| p.parse::<u32>().ok()),
        parts.next().and_then(|p| p.parse::<u32>().ok()),
    ) {
        (Some(major), Some(minor)) => (major, minor) >= (1, 6),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_times_fails_the_first_runs_then_succeeds_whatever_retry_outcome_says() {
        let job = RunBehaviour {
            outcome: Outcome::Error,
            retry_outcome: Outcome::Error,
            fail_times: Some(2),
            failing_step: Some(4),
            ..RunBehaviour::default()
        };
        assert_eq!(behaviour_of(&job, false, 0).outcome, Outcome::Error);
        assert_eq!(behaviour_of(&job, true, 1).outcome, Outcome::Error);
        assert_eq!(behaviour_of(&job, true, 2).outcome, Outcome::Success);
        assert_eq!(behaviour_of(&job, false, 5).outcome, Outcome::Success);
        let plain = RunBehaviour {
            fail_times: None,
            retry_outcome: Outcome::Success,
            ..job
        };
        assert_eq!(behaviour_of(&plain, false, 9).outcome, Outcome::Error);
        assert_eq!(behaviour_of(&plain, true, 1).outcome, Outcome::Success);
        assert_eq!(behaviour_of(&plain, true, 1).failing_step, None);
    }

    #[test]
    fn dbt_retry_needs_dbt_1_6() {
        assert!(!retry_supported_by("1.5.0-latest"));
        assert!(!retry_supported_by("1.5"));
        assert!(retry_supported_by("1.6.0-latest"));
        assert!(retry_supported_by("1.10"));
        assert!(retry_supported_by("latest"));
        assert!(retry_supported_by("versionless"));
    }
}
