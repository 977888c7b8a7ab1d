//! The thread behind each live run: waits for a warehouse slot, clones the job's repository
//! (step 1), then either replays the fixture's simulated steps against the models found at that
//! sha, or runs the job's steps with real dbt (see `dbt_executor`).
//!
//! Work happens here, never on the request path: a trigger returns as soon as the run exists
//! (Queued), and every API read sees what the worker recorded so far. The worker checks for a
//! cancel between steps and while waiting on a subprocess, and kills the subprocess when one
//! arrives; a sandbox shutdown counts as a cancel, so no dbt outlives its sandbox.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use super::app_state::{lock, AppState};
use super::checkout::{self, CheckoutError, CheckoutRequest};
use super::dbt_executor;
use super::executor::{CheckedOut, Executor, RunRequest, StepEnd, StepPlan};
use super::fixture::{JobFixture, ProjectFixture};
use super::live_run::{plain_step, Worker};
use super::manifest_from_checkout;
use super::simulate;
use crate::child::POLL;

/// Start the worker for a freshly created live run (no-op for planned runs).
pub(crate) fn launch(state: &Arc<AppState>, run_id: i64) {
    let order = {
        let mut runs = lock(&state.runs);
        match runs.runs.get_mut(&run_id) {
            Some(run) => run.work.take(),
            None => None,
        }
    };
    let Some(order) = order else { return };
    let worker = Worker {
        state: state.clone(),
        run_dir: state.workdir.join("runs").join(run_id.to_string()),
        created: lock(&state.runs)
            .get(run_id)
            .map_or_else(Instant::now, |r| r.created),
        order: *order,
    };
    let spawned = std::thread::Builder::new()
        .name(format!("datachonk-run-{run_id}"))
        .spawn(move || worker.work());
    match spawned {
        Ok(handle) => lock(&state.workers).push(handle),
        Err(e) => {
            // No thread, no run: record it as an error the user can read.
            let mut runs = lock(&state.runs);
            if let Some(run) = runs.runs.get_mut(&run_id) {
                run.plan.status_message = Some(format!("The sandbox could not start the run: {e}"));
                if let Some(clock) = run.plan.live.as_mut() {
                    clock.finished = Some(run.created.elapsed());
                }
            }
        }
    }
}

impl Worker {
    /// Wait `d` unless cancelled first; `false` when cancelled. Fixture timings only: real
    /// work never waits on a clock.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        loop {
            if self.cancelled() {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(POLL));
        }
    }

    fn work(self) {
        self.execute();
        // The checkout is scratch space; artifacts and the profile stay for the API.
        let _ = std::fs::remove_dir_all(self.run_dir.join("checkout"));
    }

    fn execute(&self) {
        let real_dbt = matches!(self.order.executor, Executor::Dbt { .. });
        // Runs sharing a warehouse (one DuckDB file per environment, attached across a
        // project) take turns, as dbt Cloud queues runs: the run stays Queued meanwhile.
        let slot = self.state.warehouse_slot(self.order.project.id);
        let _guard = if real_dbt {
            match self.wait_for(&slot) {
                Some(g) => Some(g),
                None => return self.finish(None, Vec::new()),
            }
        } else {
            if !self.pause(Duration::from_millis(self.order.behaviour.queued_ms)) {
                return self.finish(None, Vec::new());
            }
            None
        };
        self.clock(|c, now| c.dequeued = Some(now));
        if !real_dbt && !self.pause(Duration::from_millis(self.order.behaviour.starting_ms)) {
            return self.finish(None, Vec::new());
        }
        if let Err(e) = std::fs::create_dir_all(&self.run_dir) {
            return self.finish(
                Some(format!(
                    "The sandbox cannot create {}: {e}",
                    self.run_dir.display()
                )),
                Vec::new(),
            );
        }
        self.clock(|c, now| c.started = Some(now));

        let Some(project_dir) = self.clone_step() else {
            return;
        };
        match &self.order.executor {
            Executor::Simulate => self.replay_simulation(&project_dir),
            Executor::Dbt { dbt } => dbt_executor::run_steps(self, dbt, &project_dir),
        }
    }

    fn wait_for<'a>(&self, slot: &'a Mutex<()>) -> Option<MutexGuard<'a, ()>> {
        loop {
            if self.cancelled() {
                return None;
            }
            match slot.try_lock() {
                Ok(g) => return Some(g),
                Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => std::thread::sleep(POLL),
            }
        }
    }

    /// Step 1. `None` when the run ended there (the run is finished).
    fn clone_step(&self) -> Option<PathBuf> {
        let position = self.begin_step("Clone Git Repository", None);
        let Some(repository) = self.order.job.repository.clone() else {
            let message = format!(
                "Job {} has no repository to clone: set `repository:` on the job in the sandbox fixture.",
                self.order.job.id
            );
            self.end_step(position, plain_step(StepEnd::Error, format!("{message}\n")));
            self.finish(Some(message), Vec::new());
            return None;
        };
        let dest = self.run_dir.join("checkout");
        let branch = self.order.git_branch.as_deref().or(self
            .order
            .environment
            .custom_branch
            .as_deref());
        let request = CheckoutRequest {
            repository: &repository,
            dest: &dest,
            sha: self.order.git_sha.as_deref(),
            branch,
        };
        match checkout::checkout(&request, &|| self.cancelled(), self.deadline()) {
            Ok(done) => {
                self.record(|run| {
                    run.plan.checked_out = Some(CheckedOut {
                        sha: done.sha.clone(),
                        branch: done.branch.clone(),
                    });
                });
                let dir = self.order.project.dbt_project_subdirectory.as_deref();
                match project_subdirectory(&dest, dir) {
                    Ok(dir) => {
                        self.end_step(position, plain_step(StepEnd::Success, done.log));
                        Some(dir)
                    }
                    Err(message) => {
                        let log = format!("{}{message}\n", done.log);
                        self.end_step(position, plain_step(StepEnd::Error, log));
                        self.finish(Some(message), Vec::new());
                        None
                    }
                }
            }
            Err(CheckoutError::Stopped { log, ending }) => {
                let timed_out = ending == crate::child::Ending::TimedOut;
                let end = if timed_out {
                    StepEnd::Error
                } else {
                    StepEnd::Cancelled
                };
                self.end_step(position, plain_step(end, log));
                self.finish(timed_out.then(|| self.timeout_message()), Vec::new());
                None
            }
            Err(e) => {
                self.end_step(position, plain_step(StepEnd::Error, e.log().to_string()));
                self.finish(Some(e.to_string()), Vec::new());
                None
            }
        }
    }

    /// played out step by step after the real clone.
    fn replay_simulation(&self, project_dir: &Path) {
        let scanned = match manifest_from_checkout::scan(project_dir) {
            Ok(p) => p,
            Err(e) => {
                self.instant_step(
                    &format!(
                        "Create Profile from Connection {}",
                        self.order.environment.connection
                    ),
                    StepEnd::Success,
                    format!(
                        "Creating profile from connection {}",
                        self.order.environment.connection
                    ),
                );
                self.instant_step(
                    "Invoke dbt with `dbt deps`",
                    StepEnd::Error,
                    format!("{e}\n"),
                );
                return self.finish(Some(e.to_string()), Vec::new());
            }
        };
        let job = JobFixture {
            models: scanned.models.clone(),
            ..self.order.job.clone()
        };
        let project = ProjectFixture {
            name: scanned.name.clone(),
            ..self.order.project.clone()
        };
        let plan = simulate::plan(&RunRequest {
            job: &job,
            project: &project,
            environment: &self.order.environment,
            commands: self.order.commands.clone(),
            git_sha: self.order.git_sha.clone(),
            git_branch: self.order.git_branch.clone(),
            generate_docs: self.order.generate_docs,
            dbt_version: self.order.dbt_version.clone(),
            model_files: &scanned.model_files,
            seeds: &scanned.seeds,
            tests: &scanned.tests,
            behaviour: self.order.behaviour.clone(),
            retry_nodes: self.order.retry_nodes.clone(),
        });
        self.record(|run| {
            run.plan.project_name = plan.project_name.clone();
            run.plan.models = plan.models.clone();
            run.plan.model_files = plan.model_files.clone();
        });
        // Step 1 was the real clone; the plan's own clone step is dropped.
        for step in plan.steps.iter().skip(1) {
            let position = self.begin_step(&step.name, step.command.as_deref());
            if !self.pause(step.duration) {
                self.end_step(
                    position,
                    StepPlan {
                        end: StepEnd::Cancelled,
                        logs: format!(
                            "{}\nCancelled.",
                            step.logs.lines().next().unwrap_or_default()
                        ),
                        ..plain_step(StepEnd::Cancelled, String::new())
                    },
                );
                return self.finish(None, Vec::new());
            }
            self.end_step(position, step.clone());
        }
        self.finish(None, plan.skipped);
    }
}

/// The dbt project inside the checkout (`dbt_project_subdirectory`), refusing paths that
/// would leave it.
fn project_subdirectory(checkout: &Path, sub: Option<&str>) -> Result<PathBuf, String> {
    let Some(sub) = sub.map(|s| s.trim_matches('/')).filter(|s| !s.is_empty()) else {
        return Ok(checkout.to_path_buf());
    };
    let rel = Path::new(sub);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "dbt_project_subdirectory {sub:?} must be a relative path inside the repository."
        ));
    }
    Ok(checkout.join(rel))
}
