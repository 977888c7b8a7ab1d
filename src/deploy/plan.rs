//! What to deploy: the job, its trigger body and how to wait — built by the commands from the
//! configuration and flags, read by the core.

use std::time::Duration;

use crate::cloud::insight::ArtifactStore;
use crate::cloud::pull_request::{self, PullRequest};
use crate::cloud::{request, Run, TriggerRequest};
use crate::config::{Config, DbtCloudConfig};

use super::error::DeployError;

/// What to trigger and how to wait.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub job_id: i64,
    pub request: TriggerRequest,
    pub wait: bool,
    pub timeout: Option<Duration>,
    pub cancel_on_timeout: bool,
    pub cancel_on_interrupt: bool,
    /// Retries of a run that ends in Error, from the point of failure.
    pub retries: u32,
    /// Where finished runs' artifacts are kept (the node summary reads them).
    pub store: ArtifactStore,
}

impl RunPlan {
    /// The `--timeout` as people wrote it (`5m`), for messages.
    pub fn limit_text(&self) -> String {
        self.timeout
            .map(|t| humantime::format_duration(t).to_string())
            .unwrap_or_default()
    }
}

/// One job of several: what to call it in the output, and how to trigger and wait.
#[derive(Debug, Clone)]
pub struct Unit {
    /// `dev, job 1` for a target, `job 1` otherwise.
    pub label: String,
    pub target: Option<String>,
    pub plan: RunPlan,
}

impl Unit {
    /// The unit of a resolved configuration (its target, job, trigger overrides and timeout).
    pub fn of(cfg: &Config, plan: RunPlan) -> Unit {
        let target = cfg.dbt_cloud.target.as_ref().map(|t| t.value.clone());
        let label = match &target {
            Some(t) => format!("{t}, job {}", plan.job_id),
            None => format!("job {}", plan.job_id),
        };
        Unit {
            label,
            target,
            plan,
        }
    }
}

/// How several runs are triggered and awaited.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManyOptions {
    pub wait: bool,
    pub sequential: bool,
}

/// `deploy.dbt_cloud.retries` / `--retries` (validated ≥ 0 by the configuration).
pub fn retries_of(d: &DbtCloudConfig) -> u32 {
    u32::try_from(d.retries.value).unwrap_or(0)
}

/// The trigger body from the configuration, the commit and branch (see
/// [`request::from_config`]); a bad cause is a usage error.
pub fn request_for(
    d: &DbtCloudConfig,
    git_sha: Option<&str>,
    git_branch: Option<&str>,
) -> Result<TriggerRequest, DeployError> {
    request::from_config(d, git_sha, git_branch).map_err(DeployError::usage)
}

/// Whether a stop signal cancels the run by default: in a CI job (GitHub Actions, GitLab CI),
/// where a SIGTERM means the pipeline was cancelled and a run left going would build on for
/// nobody. Elsewhere only `--cancel-on-interrupt` does.
pub fn ci_cancels_on_stop() -> bool {
    matches!(
        pull_request::ci_provider(&|k| std::env::var(k).ok()),
        Some(pull_request::Provider::GitHub | pull_request::Provider::GitLab)
    )
}

/// `--pull-request [N]` (`Some("")`: the flag alone, read from the CI system's event), with
/// the process environment and the origin remote's host saying whose pull request it is.
pub fn pull_request_from(value: Option<&str>) -> Result<Option<PullRequest>, DeployError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let remote = git2::Repository::discover(".").ok().and_then(|r| {
        r.find_remote("origin")
            .ok()
            .and_then(|o| o.url().ok().map(str::to_string))
    });
    // `resolve` reads an empty value as the flag alone.
    pull_request::resolve(Some(value), &|k| std::env::var(k).ok(), remote.as_deref())
        .map(Some)
        .map_err(|e| DeployError::usage(e.to_string()))
}

/// Make the trigger a run of pull request `pr`: its field, and the commit dbt Cloud builds
/// (the pull request's head from the CI event when no commit was named). A pull-request
/// run without a commit or branch is refused before anything is triggered.
pub fn for_pull_request(request: &mut TriggerRequest, pr: &PullRequest) -> Result<(), DeployError> {
    if request.git_sha.is_none() && request.git_branch.is_none() {
        request.git_sha = pr.head_sha.clone();
    }
    if request.git_sha.is_none() && request.git_branch.is_none() {
        return Err(DeployError::usage(format!(
            "pull request {}: dbt Cloud builds a pull request's commit: name it with --git-sha SHA (or --git-branch)",
            pr.id
        )));
    }
    pr.apply(request);
    Ok(())
}

/// Where finished runs' artifacts are kept: `.datachonk/runs/` next to datachonk.yaml, else
/// at the root of the git repository around the current directory; nowhere otherwise.
pub fn store_for(cfg: &Config) -> ArtifactStore {
    if let Some(dir) = cfg.file.as_ref().and_then(|f| f.parent()) {
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        return ArtifactStore::in_project(dir);
    }
    match git2::Repository::discover(".")
        .ok()
        .and_then(|r| r.workdir().map(|w| w.to_path_buf()))
    {
        Some(root) => ArtifactStore::in_project(&root),
        None => ArtifactStore::none(),
    }
}

/// The run's page: its `href`, else the API's base URL naming the run.
pub fn url_of(base_url: &str, run: &Run) -> String {
    run.href
        .clone()
        .unwrap_or_else(|| format!("{base_url}/ (run {})", run.id))
}
