//! A run's plan (fixed when the run is created, or written by its worker as things happen)
//! and the run's state at any instant computed from it ([`RunPlan::snapshot`]).

use std::time::Duration;

use super::fixture::{
    EnvironmentFixture, FailureStatus, JobFixture, Outcome, ProjectFixture, RunBehaviour,
};
use super::live::LiveClock;
use super::manifest_from_checkout::{DataTest, ModelFile};
use super::status::{CheckedOut, RunSnapshot, RunStatus, StepEnd, StepPlan, StepSnapshot};

/// Everything decided when a run is created.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub queued: Duration,
    pub starting: Duration,
    /// Steps up to and including the one that ends the run.
    pub steps: Vec<StepPlan>,
    /// Steps that would have followed a failing one (shown by `GET .../retry/`).
    pub skipped: Vec<StepPlan>,
    /// dbt project name and models (for the artifacts).
    pub project_name: String,
    pub models: Vec<String>,
    /// The models' files when they were read from a checkout (empty: fixture models, whose
    /// paths the artifacts make up).
    pub model_files: Vec<ModelFile>,
    pub dbt_version: String,
    /// Set for live runs: the recorded instants (see [`LiveClock`]).
    pub live: Option<LiveClock>,
    /// What was checked out (live runs with a repository); `None`: the trigger's values.
    pub checked_out: Option<CheckedOut>,
    /// Why the run failed, in the user's terms (`status_message`).
    pub status_message: Option<String>,
    /// The run whose manifest `--defer --state` compared against.
    pub deferring_run_id: Option<i64>,
    /// Verdicts the simulated `sources.json` gives source tables (`source.table` or `table`);
    /// absent ones pass.
    pub source_freshness: std::collections::BTreeMap<String, super::fixture::FreshnessStatus>,
}

impl RunSnapshot {
    /// A finished step that wrote artifacts, by API index (1-based).
    pub fn step_wrote_artifacts(&self, plan: &RunPlan, index: usize) -> bool {
        self.steps.iter().any(|s| {
            s.position + 1 == index
                && s.finished.is_some()
                && matches!(s.status, RunStatus::Success | RunStatus::Error)
                && !plan.steps[s.position].artifacts.is_empty()
        })
    }
}

impl RunPlan {
    fn step_bounds(&self) -> Vec<(Duration, Duration)> {
        let mut t = self.queued + self.starting;
        self.steps
            .iter()
            .map(|s| {
                let start = t;
                t += s.duration;
                (start, t)
            })
            .collect()
    }

    /// When the run ends by itself.
    pub fn natural_end(&self) -> Duration {
        self.step_bounds()
            .last()
            .map_or(self.queued + self.starting, |b| b.1)
    }

    /// The run's state `now` after creation, given an optional user cancellation instant.
    pub fn snapshot(&self, now: Duration, cancelled_at: Option<Duration>) -> RunSnapshot {
        if let Some(clock) = &self.live {
            return clock.snapshot(&self.steps, now, cancelled_at);
        }
        let bounds = self.step_bounds();
        let dq = self.queued;
        let st = self.queued + self.starting;
        let end = self.natural_end();
        let cancel = cancelled_at.filter(|c| *c < end && *c <= now);
        if let Some(c) = cancel {
            let steps = bounds
                .iter()
                .enumerate()
                .filter(|(_, (s, _))| *s < c)
                .map(|(i, (s, e))| StepSnapshot {
                    position: i,
                    status: if *e <= c {
                        RunStatus::Success
                    } else {
                        RunStatus::Cancelled
                    },
                    started: *s,
                    finished: Some((*e).min(c)),
                })
                .collect();
            return RunSnapshot {
                status: RunStatus::Cancelled,
                dequeued: (c >= dq).then_some(dq),
                started: (c >= st).then_some(st),
                finished: Some(c),
                updated: c,
                steps,
                cancelled: true,
            };
        }
        let status = if now < dq {
            RunStatus::Queued
        } else if now < st {
            RunStatus::Starting
        } else if now < end {
            RunStatus::Running
        } else {
            match self.steps.last().map(|s| &s.end) {
                Some(StepEnd::Error) => RunStatus::Error,
                Some(StepEnd::Cancelled) => RunStatus::Cancelled,
                _ => RunStatus::Success,
            }
        };
        let steps: Vec<StepSnapshot> = bounds
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s <= now && now >= st)
            .map(|(i, (s, e))| {
                let done = *e <= now;
                StepSnapshot {
                    position: i,
                    status: if !done {
                        RunStatus::Running
                    } else {
                        match self.steps[i].end {
                            StepEnd::Success => RunStatus::Success,
                            StepEnd::Error => RunStatus::Error,
                            StepEnd::Cancelled => RunStatus::Cancelled,
                        }
                    },
                    started: *s,
                    finished: done.then_some(*e),
                }
            })
            .collect();
        let mut updated = Duration::ZERO;
        for t in [Some(dq), Some(st)]
            .into_iter()
            .flatten()
            .chain(bounds.iter().flat_map(|(s, e)| [*s, *e]))
        {
            if t <= now {
                updated = updated.max(t);
            }
        }
        RunSnapshot {
            status,
            dequeued: (now >= dq).then_some(dq),
            started: (now >= st).then_some(st),
            finished: status.is_terminal().then_some(end),
            updated,
            steps,
            cancelled: status == RunStatus::Cancelled,
        }
    }
}

/// What a run is asked to do: the job's context plus the trigger's overrides.
pub struct RunRequest<'a> {
    pub job: &'a JobFixture,
    pub project: &'a ProjectFixture,
    pub environment: &'a EnvironmentFixture,
    /// The commands to run (`steps_override` or the job's `execute_steps`).
    pub commands: Vec<String>,
    pub git_sha: Option<String>,
    pub git_branch: Option<String>,
    pub generate_docs: bool,
    pub dbt_version: String,
    /// The model files at the requested sha (empty: the job's fixture `models`).
    pub model_files: &'a [ModelFile],
    /// The seeds and data tests at the requested sha (empty without a checkout).
    pub seeds: &'a [String],
    pub tests: &'a [DataTest],
    /// The behaviour to simulate (the job's, or its retry behaviour).
    pub behaviour: RunBehaviour,
    /// A retry: the nodes the retried run's failed step did not get done (failed, errored,
    /// skipped). Its first node-running step runs only these, as `dbt retry` does.
    pub retry_nodes: Option<Vec<String>>,
}

/// Default `failing_step` resolution shared by executors: 1-based, clamped to the steps.
pub(crate) fn failing_position(behaviour: &RunBehaviour, steps: usize) -> usize {
    behaviour
        .failing_step
        .map_or(steps, |i| i.clamp(1, steps))
        .saturating_sub(1)
}

/// dbt's `run_results.json` status for a failure kind.
pub(crate) fn failure_status(s: FailureStatus) -> &'static str {
    match s {
        FailureStatus::Error => "error",
        FailureStatus::Fail => "fail",
    }
}

/// Whether the behaviour ends the run early.
pub(crate) fn ends_early(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ends: &[StepEnd]) -> RunPlan {
        RunPlan {
            queued: Duration::from_millis(10),
            starting: Duration::from_millis(10),
            steps: ends
                .iter()
                .map(|e| StepPlan {
                    name: "s".into(),
                    command: None,
                    duration: Duration::from_millis(10),
                    end: e.clone(),
                    logs: String::new(),
                    artifacts: vec![],
                    nodes: vec![],
                    debug_logs: None,
                    files: None,
                })
                .collect(),
            skipped: vec![],
            project_name: "p".into(),
            models: vec![],
            model_files: vec![],
            dbt_version: "latest".into(),
            live: None,
            checked_out: None,
            status_message: None,
            deferring_run_id: None,
            source_freshness: Default::default(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn walks_through_the_phases() {
        let p = plan(&[StepEnd::Success, StepEnd::Error]);
        assert_eq!(p.snapshot(ms(5), None).status, RunStatus::Queued);
        assert_eq!(p.snapshot(ms(15), None).status, RunStatus::Starting);
        let s = p.snapshot(ms(35), None);
        assert_eq!(s.status, RunStatus::Running);
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[0].status, RunStatus::Success);
        assert_eq!(s.steps[1].status, RunStatus::Running);
        let s = p.snapshot(ms(100), None);
        assert_eq!(s.status, RunStatus::Error);
        assert_eq!(s.finished, Some(ms(40)));
    }

    #[test]
    fn cancel_mid_step_and_while_queued() {
        let p = plan(&[StepEnd::Success, StepEnd::Success]);
        let s = p.snapshot(ms(100), Some(ms(35)));
        assert_eq!(s.status, RunStatus::Cancelled);
        assert_eq!(s.steps[1].status, RunStatus::Cancelled);
        assert_eq!(s.finished, Some(ms(35)));
        let s = p.snapshot(ms(100), Some(ms(5)));
        assert_eq!(s.started, None);
        assert!(s.steps.is_empty());
        // A cancel after the natural end changes nothing.
        assert_eq!(p.snapshot(ms(100), Some(ms(90))).status, RunStatus::Success);
    }
}
