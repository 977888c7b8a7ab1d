//! The JSON shapes the integration API answers with (documented in `openapi.json`), built
//! from the client's types. Statuses carry the seed's names: Queued, Starting, Running,
//! Success, Error, Cancelled.

use serde::Serialize;

use crate::cloud::types::{Environment, Job};
use crate::cloud::verdict::Finished;
use crate::cloud::{Run, RunStep};
use crate::init::job_check;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub index: i64,
    pub name: String,
    pub status: &'static str,
    /// When it started (RFC 3339): the page's live timer counts from here.
    pub started_at: Option<String>,
    pub duration_seconds: Option<f64>,
}

impl StepView {
    pub fn of(step: &RunStep) -> Self {
        StepView {
            index: step.index.unwrap_or(0),
            name: step.name.clone().unwrap_or_else(|| "step".into()),
            status: step.run_status().label(),
            started_at: step.started_at.map(|t| t.0.to_rfc3339()),
            duration_seconds: step.elapsed_seconds().map(round),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingStepView {
    pub index: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailingNodeView {
    pub unique_id: String,
    pub status: String,
    pub message: Option<String>,
}

/// A run as `runs/:id`, the SSE events and `trigger-run` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub id: i64,
    pub job_id: Option<i64>,
    /// The job's project: after a reload the page picks it again.
    pub project_id: Option<i64>,
    pub status: &'static str,
    pub status_code: Option<i64>,
    pub finished: bool,
    pub href: Option<String>,
    /// What the link to `href` says: `Open in dbt Cloud` on dbt Cloud's hosts, else `Open in
    /// the sandbox` (a local stand-in is not dbt Cloud).
    pub href_text: Option<&'static str>,
    pub cause: Option<String>,
    pub git_sha: Option<String>,
    pub git_branch: Option<String>,
    pub created_at: Option<String>,
    /// When it left the queue (RFC 3339), once it did.
    pub started_at: Option<String>,
    pub duration_seconds: Option<f64>,
    pub status_message: Option<String>,
    pub steps: Vec<StepView>,
    /// `3 models ok · 1 error`, once finished and its artifacts could be read.
    pub summary: Option<String>,
    pub failing_step: Option<FailingStepView>,
    pub failing_nodes: Vec<FailingNodeView>,
    /// On Error: the nodes skipped because something upstream of them failed.
    pub skipped_nodes: Vec<String>,
    /// On Error: the last lines of the failing step's log.
    pub log_tail: Vec<String>,
}

impl RunView {
    pub fn of(run: &Run) -> Self {
        RunView {
            id: run.id,
            job_id: run.job(),
            project_id: run.project_id,
            status: run.run_status().label(),
            status_code: run.status,
            finished: run.run_status().is_terminal(),
            href: run.href.clone(),
            href_text: run.href.as_deref().map(link_text),
            cause: run.trigger.as_ref().and_then(|t| t.cause.clone()),
            git_sha: run.git_sha.clone(),
            git_branch: run.git_branch.clone(),
            created_at: run.created_at.map(|t| t.0.to_rfc3339()),
            started_at: run.started_at.map(|t| t.0.to_rfc3339()),
            duration_seconds: run.elapsed_seconds().map(round),
            status_message: run.status_message.clone().filter(|m| !m.is_empty()),
            steps: run.steps().iter().map(StepView::of).collect(),
            summary: None,
            failing_step: None,
            failing_nodes: Vec::new(),
            skipped_nodes: Vec::new(),
            log_tail: Vec::new(),
        }
    }

    /// The view of a finished run with its verdict: summary and, on Error, what failed.
    pub fn finished(run: &Run, finished: &Finished) -> Self {
        let mut view = RunView::of(run);
        view.summary = finished.insight.as_ref().map(|i| i.summary_line.clone());
        if let Some(f) = &finished.failure {
            view.failing_step = f.step_index.map(|index| FailingStepView {
                index,
                name: f.step_name.clone().unwrap_or_default(),
            });
            view.failing_nodes = f
                .nodes
                .iter()
                .map(|n| FailingNodeView {
                    unique_id: n.unique_id.clone(),
                    status: n.status.clone(),
                    message: n.message.clone(),
                })
                .collect();
            view.log_tail = f.log_tail.clone();
            view.skipped_nodes = finished
                .insight
                .as_ref()
                .map(|i| i.skipped_downstream.clone())
                .unwrap_or_default();
        }
        view
    }

    /// Put a step's new state in (a step event between two status events).
    pub fn upsert_step(&mut self, step: StepView) {
        match self.steps.iter_mut().find(|s| s.index == step.index) {
            Some(known) => *known = step,
            None => {
                self.steps.push(step);
                self.steps.sort_by_key(|s| s.index);
            }
        }
    }
}

/// dbt Cloud's hosts: `cloud.getdbt.com` and the other `getdbt.com` ones, the regional and
/// cell hosts under `dbt.com` (`emea.dbt.com`, `ACCOUNT_PREFIX.us1.dbt.com`).
pub fn is_dbt_cloud(href: &str) -> bool {
    let host = url::Url::parse(href)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    host.is_some_and(|h| {
        ["getdbt.com", "dbt.com"]
            .iter()
            .any(|d| h == *d || h.ends_with(&format!(".{d}")))
    })
}

fn link_text(href: &str) -> &'static str {
    if is_dbt_cloud(href) {
        "Open in dbt Cloud"
    } else {
        "Open in the sandbox"
    }
}

/// A line of a job's recent runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub status: &'static str,
    pub finished: bool,
    pub href: Option<String>,
    pub cause: Option<String>,
    pub created_at: Option<String>,
    pub duration_seconds: Option<f64>,
}

impl RunSummary {
    pub fn of(run: &Run) -> Self {
        let v = RunView::of(run);
        RunSummary {
            id: v.id,
            status: v.status,
            finished: v.finished,
            href: v.href,
            cause: v.cause,
            created_at: v.created_at,
            duration_seconds: v.duration_seconds,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentView {
    pub id: i64,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidationView {
    /// Builds only what changed and defers the rest: fit to validate every push.
    pub state_aware: bool,
    /// What to change in dbt Cloud (the advice `init` gives).
    pub advice: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub id: i64,
    pub name: Option<String>,
    pub environment: Option<EnvironmentView>,
    pub steps: Vec<String>,
    pub validation: ValidationView,
    pub recent_runs: Vec<RunSummary>,
}

impl JobView {
    pub fn of(job: &Job, environments: &[Environment], runs: &[Run]) -> Option<Self> {
        let id = job.id?;
        let environment = job.environment_id.map(|env| {
            let known = environments.iter().find(|e| e.id == Some(env));
            EnvironmentView {
                id: env,
                name: known.and_then(|e| e.name.clone()),
                kind: known.and_then(|e| e.deployment_type.clone().or_else(|| e.kind.clone())),
            }
        });
        let advice = job_check::assess(job);
        Some(JobView {
            id,
            name: job.name.clone(),
            environment,
            steps: job.execute_steps.clone().unwrap_or_default(),
            validation: ValidationView {
                state_aware: advice.is_empty(),
                advice: advice.iter().map(|a| a.message()).collect(),
            },
            recent_runs: runs
                .iter()
                .filter(|r| r.job() == Some(id))
                .take(RECENT_RUNS)
                .map(RunSummary::of)
                .collect(),
        })
    }
}

/// Recent runs shown per job.
pub const RECENT_RUNS: usize = 5;

fn round(secs: f64) -> f64 {
    (secs * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_says_dbt_cloud_only_on_dbt_clouds_hosts() {
        for href in [
            "https://cloud.getdbt.com/deploy/1/projects/2/runs/3/",
            "https://emea.dbt.com/deploy/1/projects/2/runs/3/",
            "https://ab123.us1.dbt.com/deploy/1/projects/2/runs/3/",
            "https://ACME.us1.DBT.com/x",
        ] {
            assert_eq!(link_text(href), "Open in dbt Cloud", "{href}");
        }
        for href in [
            "http://127.0.0.1:8080/deploy/1/projects/2/runs/3/",
            "https://notdbt.com/x",
            "https://dbt.com.example.org/x",
            "not a url",
        ] {
            assert_eq!(link_text(href), "Open in the sandbox", "{href}");
        }
    }
}
