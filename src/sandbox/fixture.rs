//! The sandbox's world: accounts, projects, environments, jobs (with how their runs behave),
//! tokens, faults and an optional rate limit — from a YAML file or the built-in default.
//!
//! The file format is documented, key by key, in `sandbox.example.yaml` at the repository root.
//! Unknown keys are errors (a typo in a fixture would otherwise silently change a test), and
//! every parse error names the file, line and column.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::faults::FaultSpec;

/// Everything the sandbox serves. Build it with [`Fixture::builtin`], [`Fixture::from_path`]
/// or [`Fixture::from_yaml_str`], or construct it in code (all fields are public).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub accounts: Vec<AccountFixture>,
    #[serde(default)]
    pub projects: Vec<ProjectFixture>,
    #[serde(default)]
    pub environments: Vec<EnvironmentFixture>,
    #[serde(default)]
    pub jobs: Vec<JobFixture>,
    /// Tokens the API accepts. When empty, the `--token` value is accepted with full access.
    #[serde(default)]
    pub tokens: Vec<TokenFixture>,
    /// Fault specs, same syntax as `--fault` (see [`FaultSpec`]).
    #[serde(default)]
    pub faults: Vec<String>,
    /// Optional per-minute request limit on `/api/` paths, answered with 429 like dbt Cloud.
    #[serde(default)]
    pub rate_limit: Option<RateLimitFixture>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountFixture {
    pub id: i64,
    pub name: String,
    /// One of the spec's `PlanEnum` values.
    #[serde(default = "default_plan")]
    pub plan: String,
    /// Account identifier (the spec's `identifier`), e.g. the cell prefix.
    #[serde(default)]
    pub identifier: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProjectFixture {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub dbt_project_subdirectory: Option<String>,
}

/// `type` of an environment, as in the spec's `Type76eEnum`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnvironmentType {
    Development,
    #[default]
    Deployment,
}

/// `deployment_type` of a deployment environment, as in the spec's `DeploymentTypeEnum`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentType {
    Production,
    Staging,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFixture {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    #[serde(default, rename = "type")]
    pub env_type: EnvironmentType,
    #[serde(default)]
    pub deployment_type: Option<DeploymentType>,
    #[serde(default = "default_dbt_version")]
    pub dbt_version: String,
    #[serde(default)]
    pub custom_branch: Option<String>,
    /// Connection name shown in the "Create Profile from Connection <name>" step.
    #[serde(default = "default_connection")]
    pub connection: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobFixture {
    pub id: i64,
    pub project_id: i64,
    pub environment_id: i64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// One of the spec's `JobTypeEnum` values (`ci`, `scheduled`, `other`, ...).
    #[serde(default = "default_job_type")]
    pub job_type: String,
    /// dbt commands, one step each.
    pub execute_steps: Vec<String>,
    /// Adds a final `dbt docs generate` step that writes `catalog.json`.
    #[serde(default)]
    pub generate_docs: bool,
    /// Adds a `dbt source freshness` step before the commands.
    #[serde(default)]
    pub run_generate_sources: bool,
    /// Model names the simulated artifacts report (default: a few staging models).
    #[serde(default = "default_models")]
    pub models: Vec<String>,
    #[serde(default = "default_threads")]
    pub threads: i64,
    #[serde(default = "default_target_name")]
    pub target_name: String,
    #[serde(default)]
    pub timeout_seconds: i64,
    /// `null` inherits the environment's version.
    #[serde(default)]
    pub dbt_version: Option<String>,
    #[serde(default)]
    pub deferring_environment_id: Option<i64>,
    #[serde(default)]
    pub deferring_job_definition_id: Option<i64>,
    #[serde(default = "default_cron")]
    pub cron: String,
    /// The git repository runs check out (a URL such as `file:///srv/git/analytics.git`, or a
    /// path): the requested `git_sha`, else `git_branch`'s head, else the environment's
    /// `custom_branch`, else the remote's HEAD. `None`: nothing is cloned (simulate only).
    #[serde(default)]
    pub repository: Option<String>,
    /// How this job's runs behave in the `simulate` executor.
    #[serde(default)]
    pub run: RunBehaviour,
}

/// How a simulated run unfolds: phase and step timings and the outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunBehaviour {
    /// Time spent Queued (status 1).
    #[serde(default = "default_queued_ms")]
    pub queued_ms: u64,
    /// Time spent Starting (status 2).
    #[serde(default = "default_starting_ms")]
    pub starting_ms: u64,
    /// Duration of each step unless `step_durations_ms` says otherwise.
    #[serde(default = "default_step_ms")]
    pub step_ms: u64,
    /// Per-step durations by 1-based step index (1 = clone, 2 = profile, 3 = deps, 4 = first command).
    #[serde(default)]
    pub step_durations_ms: BTreeMap<usize, u64>,
    #[serde(default)]
    pub outcome: Outcome,
    /// 1-based index of the step that errors (or is cancelled); default: the last step.
    #[serde(default)]
    pub failing_step: Option<usize>,
    /// Nodes that fail in the failing step, with their messages (shown in `run_results.json`).
    #[serde(default)]
    pub failures: Vec<NodeFailure>,
    /// Outcome of a run created by retrying a failed run of this job.
    #[serde(default)]
    pub retry_outcome: Outcome,
    /// A job that fails N times, then succeeds: its first N runs (retries and new triggers
    /// alike) end with `outcome`, every later one succeeds. Overrides `retry_outcome`.
    #[serde(default)]
    pub fail_times: Option<u32>,
    /// Nodes (usually data tests) that warn in every step that runs nodes; they do not fail
    /// the run.
    #[serde(default)]
    pub warnings: Vec<NodeWarning>,
    /// Verdicts of `dbt source freshness` per source table (`raw.orders`, or just `orders`);
    /// tables not named pass.
    #[serde(default)]
    pub freshness: BTreeMap<String, FreshnessStatus>,
    /// The commit a simulated run reports it built, whatever was asked: a stand-in for a dbt
    /// Cloud that checked out something else (a branch's head after a force-push, say).
    #[serde(default)]
    pub builds_sha: Option<String>,
}

/// A node that warns (`status: warn` in `run_results.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeWarning {
    /// A test name (`accepted_values_stg_orders_status`) or a full unique id.
    pub node: String,
    pub message: String,
}

/// A source table's freshness verdict in `sources.json`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FreshnessStatus {
    Pass,
    Warn,
    Error,
    RuntimeError,
}

impl FreshnessStatus {
    /// dbt's spelling in `sources.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            FreshnessStatus::Pass => "pass",
            FreshnessStatus::Warn => "warn",
            FreshnessStatus::Error => "error",
            FreshnessStatus::RuntimeError => "runtime error",
        }
    }
}

impl Default for RunBehaviour {
    fn default() -> Self {
        RunBehaviour {
            queued_ms: default_queued_ms(),
            starting_ms: default_starting_ms(),
            step_ms: default_step_ms(),
            step_durations_ms: BTreeMap::new(),
            outcome: Outcome::Success,
            failing_step: None,
            failures: Vec::new(),
            retry_outcome: Outcome::Success,
            fail_times: None,
            warnings: Vec::new(),
            freshness: BTreeMap::new(),
            builds_sha: None,
        }
    }
}

impl RunBehaviour {
    /// Uniform timings, handy for tests: every phase and step takes `ms`.
    pub fn uniform(ms: u64) -> Self {
        RunBehaviour {
            queued_ms: ms,
            starting_ms: ms,
            step_ms: ms,
            ..RunBehaviour::default()
        }
    }
}

/// How a simulated run ends.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Success,
    Error,
    Cancelled,
}

/// A node that fails in the failing step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeFailure {
    /// A model name (`stg_orders`) or a full unique id (`test.analytics.not_null_stg_orders_id`).
    pub node: String,
    pub message: String,
    /// `error` (a model or test that could not run) or `fail` (a data test that found rows).
    #[serde(default)]
    pub status: FailureStatus,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FailureStatus {
    #[default]
    Error,
    Fail,
}

/// What a token may do. Reads need anything but `metadata_only`; triggering, cancelling and
/// retrying need `account_admin`, `job_admin` or `job_runner`; writing job definitions
/// `account_admin` or `job_admin`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    AccountAdmin,
    JobAdmin,
    JobRunner,
    ReadOnly,
    MetadataOnly,
}

impl Permission {
    pub fn can_read(self) -> bool {
        !matches!(self, Permission::MetadataOnly)
    }

    pub fn can_run(self) -> bool {
        matches!(
            self,
            Permission::AccountAdmin | Permission::JobAdmin | Permission::JobRunner
        )
    }

    /// Create, update and delete job definitions.
    pub fn can_write_jobs(self) -> bool {
        matches!(self, Permission::AccountAdmin | Permission::JobAdmin)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenFixture {
    pub token: String,
    pub permissions: Permission,
    /// Accounts the token works for; absent = all accounts.
    #[serde(default)]
    pub accounts: Option<Vec<i64>>,
}

impl TokenFixture {
    pub fn covers(&self, account_id: i64) -> bool {
        self.accounts
            .as_ref()
            .is_none_or(|ids| ids.contains(&account_id))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFixture {
    /// More requests than this within a sliding minute are answered 429.
    pub requests_per_minute: u32,
    /// `Retry-After` to send; default: seconds until the window frees a slot.
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
}

/// Why a fixture could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("cannot read fixture {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}:{line}:{column}: {message}")]
    Parse {
        origin: String,
        line: u64,
        column: u64,
        message: String,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

fn default_plan() -> String {
    "enterprise".into()
}
fn default_dbt_version() -> String {
    "latest".into()
}
fn default_connection() -> String {
    "Postgres".into()
}
fn default_job_type() -> String {
    "other".into()
}
fn default_models() -> Vec<String> {
    vec![
        "stg_customers".into(),
        "stg_orders".into(),
        "stg_payments".into(),
    ]
}
fn default_threads() -> i64 {
    4
}
fn default_target_name() -> String {
    "default".into()
}
fn default_cron() -> String {
    "0 * * * *".into()
}
fn default_queued_ms() -> u64 {
    300
}
fn default_starting_ms() -> u64 {
    300
}
fn default_step_ms() -> u64 {
    500
}

/// The built-in fixture's token when none is given.
pub const DEFAULT_TOKEN: &str = "sandbox-token";

impl Fixture {
    /// The built-in world: account 1 "Sandbox Analytics", project 1 "analytics", production
    /// environment 1, and job 1 — a validation job running
    /// `dbt build --select state:modified+ --defer --state ./prod-manifest` that succeeds
    /// after a couple of seconds. `token` gets full access.
    pub fn builtin(token: &str) -> Fixture {
        Fixture {
            accounts: vec![AccountFixture {
                id: 1,
                name: "Sandbox Analytics".into(),
                plan: default_plan(),
                identifier: Some("sandbox".into()),
            }],
            projects: vec![ProjectFixture {
                id: 1,
                account_id: 1,
                name: "analytics".into(),
                description: None,
                dbt_project_subdirectory: None,
            }],
            environments: vec![EnvironmentFixture {
                id: 1,
                project_id: 1,
                name: "Production".into(),
                env_type: EnvironmentType::Deployment,
                deployment_type: Some(DeploymentType::Production),
                dbt_version: default_dbt_version(),
                custom_branch: None,
                connection: default_connection(),
            }],
            jobs: vec![JobFixture {
                id: 1,
                project_id: 1,
                environment_id: 1,
                name: "CI validate".into(),
                description: "Validates the pushed commit against production state.".into(),
                job_type: default_job_type(),
                execute_steps: vec![
                    "dbt build --select state:modified+ --defer --state ./prod-manifest".into(),
                ],
                generate_docs: false,
                run_generate_sources: false,
                models: default_models(),
                threads: default_threads(),
                target_name: default_target_name(),
                timeout_seconds: 0,
                dbt_version: None,
                deferring_environment_id: None,
                deferring_job_definition_id: None,
                cron: default_cron(),
                repository: None,
                run: RunBehaviour::default(),
            }],
            tokens: vec![TokenFixture {
                token: token.into(),
                permissions: Permission::AccountAdmin,
                accounts: None,
            }],
            faults: Vec::new(),
            rate_limit: None,
        }
    }

    /// Read and validate a fixture file.
    pub fn from_path(path: &Path) -> Result<Fixture, FixtureError> {
        let text = crate::io_limits::read_text(
            path,
            crate::io_limits::YAML_LIMIT,
            crate::io_limits::Origin::Named,
        )
        .map_err(|source| FixtureError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Fixture::from_yaml_str(&text, &path.display().to_string())
    }

    /// Parse and validate fixture YAML; `origin` names the source in error messages.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Fixture, FixtureError> {
        let fixture: Fixture = serde_saphyr::from_str(text).map_err(|e| {
            let (line, column) = e
                .location()
                .map_or((0, 0), |loc| (loc.line(), loc.column()));
            FixtureError::Parse {
                origin: origin.to_string(),
                line,
                column,
                message: first_line(&e.to_string()),
            }
        })?;
        fixture.validate(origin)?;
        Ok(fixture)
    }

    /// Check cross references and values serde cannot check: unique ids, existing parents,
    /// step indexes in range, parseable fault specs.
    pub fn validate(&self, origin: &str) -> Result<(), FixtureError> {
        let invalid = |message: String| FixtureError::Invalid {
            origin: origin.to_string(),
            message,
        };
        unique(self.accounts.iter().map(|a| a.id), "account").map_err(invalid)?;
        unique(self.projects.iter().map(|p| p.id), "project").map_err(invalid)?;
        unique(self.environments.iter().map(|e| e.id), "environment").map_err(invalid)?;
        unique(self.jobs.iter().map(|j| j.id), "job").map_err(invalid)?;
        for p in &self.projects {
            if !self.accounts.iter().any(|a| a.id == p.account_id) {
                return Err(invalid(format!(
                    "project {}: account_id {} is not defined under `accounts`",
                    p.id, p.account_id
                )));
            }
        }
        for e in &self.environments {
            if self.project(e.project_id).is_none() {
                return Err(invalid(format!(
                    "environment {}: project_id {} is not defined under `projects`",
                    e.id, e.project_id
                )));
            }
        }
        for j in &self.jobs {
            if self.project(j.project_id).is_none() {
                return Err(invalid(format!(
                    "job {}: project_id {} is not defined under `projects`",
                    j.id, j.project_id
                )));
            }
            match self.environment(j.environment_id) {
                Some(e) if e.project_id == j.project_id => {}
                Some(_) => {
                    return Err(invalid(format!(
                        "job {}: environment {} belongs to another project",
                        j.id, j.environment_id
                    )))
                }
                None => {
                    return Err(invalid(format!(
                        "job {}: environment_id {} is not defined under `environments`",
                        j.id, j.environment_id
                    )))
                }
            }
            if j.execute_steps.is_empty() {
                return Err(invalid(format!("job {}: execute_steps is empty", j.id)));
            }
            if j.run.failing_step == Some(0) {
                return Err(invalid(format!(
                    "job {}: run.failing_step is 1-based; 0 is not a step",
                    j.id
                )));
            }
        }
        for t in &self.tokens {
            if t.token.trim().is_empty() {
                return Err(invalid("a token is empty".into()));
            }
        }
        for spec in &self.faults {
            spec.parse::<FaultSpec>()
                .map_err(|e| invalid(format!("faults: {e}")))?;
        }
        if let Some(r) = &self.rate_limit {
            if r.requests_per_minute == 0 {
                return Err(invalid(
                    "rate_limit.requests_per_minute must be at least 1".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn account(&self, id: i64) -> Option<&AccountFixture> {
        self.accounts.iter().find(|a| a.id == id)
    }
    pub fn project(&self, id: i64) -> Option<&ProjectFixture> {
        self.projects.iter().find(|p| p.id == id)
    }
    pub fn environment(&self, id: i64) -> Option<&EnvironmentFixture> {
        self.environments.iter().find(|e| e.id == id)
    }
    pub fn job(&self, id: i64) -> Option<&JobFixture> {
        self.jobs.iter().find(|j| j.id == id)
    }
    pub fn job_mut(&mut self, id: i64) -> Option<&mut JobFixture> {
        self.jobs.iter_mut().find(|j| j.id == id)
    }
    /// Point job `job_id`'s runs at a git repository (see [`JobFixture::repository`]);
    /// `false` when there is no such job.
    pub fn set_repository(&mut self, job_id: i64, repository: impl Into<String>) -> bool {
        match self.job_mut(job_id) {
            Some(job) => {
                job.repository = Some(repository.into());
                true
            }
            None => false,
        }
    }
    /// The account a project, environment or job lives in.
    pub fn project_account(&self, project_id: i64) -> Option<i64> {
        self.project(project_id).map(|p| p.account_id)
    }
}

fn unique(ids: impl Iterator<Item = i64>, what: &str) -> Result<(), String> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(format!("{what} id {id} is defined twice"));
        }
    }
    Ok(())
}

/// The parser's message without its own "error: line L column C:" prefix (the error already
/// names the place as origin:line:column).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.split_once(": ") {
        Some((place, rest)) if place.starts_with("line ") && place.contains(" column ") => {
            rest.to_string()
        }
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn a_parse_error_names_its_place_once() {
        let err = Fixture::from_yaml_str("accounts:\n  - id: 1\n    nme: x\n", "fx.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("fx.yaml:3:5: unknown field `nme`"), "{err}");
        assert!(!err.contains("line 3 column 5"), "{err}");
    }
}
