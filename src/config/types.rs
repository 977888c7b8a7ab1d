//! The resolved configuration: values with their provenance, and what a command passes in
//! (flags, where to look). Plain data with no reading: `resolve.rs` fills it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::error::ConfigError;

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--job-id`.
    Flag(String),
    /// An environment variable, by name.
    Env(String),
    /// `datachonk.yaml` (path, line, column of the value).
    File {
        path: PathBuf,
        line: u64,
        column: u64,
    },
    /// Built-in default.
    Default,
    /// Worked out from the dbt project when the file does not say (e.g. the dialect from
    /// `target/manifest.json`, the output folder from `dbt_project.yml`'s `model-paths`).
    Project(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::File { path, line, column } => {
                write!(f, "file {}:{line}:{column}", path.display())
            }
            Source::Default => f.write_str("default"),
            Source::Project(what) => write!(f, "dbt project ({what})"),
        }
    }
}

impl Source {
    /// Short form for `config show`: `--job-id`, `env DBT_CLOUD_JOB_ID`,
    /// `datachonk.yaml:3:17` (the file's name; its full path is shown once), `default`.
    pub fn short(&self) -> String {
        match self {
            Source::Flag(flag) => flag.clone(),
            Source::File { path, line, column } => {
                // The name alone for a YAML file; a pipe (`/dev/fd/63`) keeps its whole path.
                let name = match path.extension().and_then(|e| e.to_str()) {
                    Some("yaml" | "yml") => path.file_name().unwrap_or(path.as_os_str()),
                    _ => path.as_os_str(),
                };
                format!("{}:{line}:{column}", name.to_string_lossy())
            }
            other => other.to_string(),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    pub fn new(value: T, source: Source) -> Self {
        Sourced { value, source }
    }
}

/// The default dbt Cloud access URL (multi-tenant US).
pub const DEFAULT_ACCESS_URL: &str = "https://cloud.getdbt.com";

/// The longest `cause` dbt Cloud accepts.
pub const MAX_CAUSE_LEN: usize = 255;

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    pub dbt_cloud: DbtCloudConfig,
}

/// The resolved `deploy.dbt_cloud` block.
#[derive(Debug, Clone)]
pub struct DbtCloudConfig {
    /// Base URL without a trailing slash, e.g. `https://cloud.getdbt.com`.
    pub access_url: Sourced<String>,
    /// The API token. Its source is always the environment variable that held it.
    pub token: Option<Sourced<SecretString>>,
    /// The environment variable the token is read from (`token_env` in the file).
    pub token_env: Sourced<String>,
    pub account_id: Option<Sourced<i64>>,
    pub project_id: Option<Sourced<i64>>,
    pub environment_id: Option<Sourced<i64>>,
    pub job_id: Option<Sourced<i64>>,
    pub auto_trigger: Sourced<bool>,
    pub wait: Sourced<bool>,
    pub timeout: Option<Sourced<Duration>>,
    /// Retries of a run that ends in Error (`--retries`, `retries`; default 0).
    pub retries: Sourced<i64>,
    pub cause: Option<Sourced<String>>,
    pub overrides: TriggerOverrides,
    /// The named target these values are for (`None`: the block itself).
    pub target: Option<Sourced<String>>,
    /// Every target the file defines, in name order.
    pub targets: Vec<String>,
    /// Pushing or triggering here changes production: ask first.
    pub confirm: Sourced<bool>,
    /// Every job some target marks `confirm: true` (target name, job id): the gate belongs
    /// to the job, however a command reaches it (an id, a name, a variable, another target).
    pub protected_jobs: Vec<(String, i64)>,
}

/// Per-run overrides sent with every trigger (TriggerRunRequest fields).
#[derive(Debug, Clone, Default)]
pub struct TriggerOverrides {
    pub schema_override: Option<Sourced<String>>,
    pub target_name_override: Option<Sourced<String>>,
    pub threads_override: Option<Sourced<i64>>,
    pub steps_override: Option<Sourced<Vec<String>>>,
    pub timeout_seconds_override: Option<Sourced<i64>>,
    pub dbt_version_override: Option<Sourced<String>>,
    pub generate_docs_override: Option<Sourced<bool>>,
}

/// Values given on the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct FlagValues {
    pub access_url: Option<String>,
    pub account_id: Option<i64>,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub job_id: Option<i64>,
    pub wait: Option<bool>,
    pub timeout: Option<String>,
    /// `--retries N`.
    pub retries: Option<i64>,
    pub cause: Option<String>,
    pub schema_override: Option<String>,
    pub target_name_override: Option<String>,
    pub threads_override: Option<i64>,
    pub steps_override: Option<Vec<String>>,
    pub timeout_seconds_override: Option<i64>,
    pub dbt_version_override: Option<String>,
    pub generate_docs_override: Option<bool>,
    /// `--target NAME`.
    pub target: Option<String>,
}

/// Where to look for the configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config FILE`: must exist.
    pub explicit_file: Option<PathBuf>,
    /// Directory to start the search for `datachonk.yaml` from (default: current directory).
    pub start_dir: Option<PathBuf>,
}

impl DbtCloudConfig {
    /// The target (or `deploy.dbt_cloud` itself) that marks `job_id` as production.
    pub fn protected_by(&self, job_id: i64) -> Option<&str> {
        self.protected_jobs
            .iter()
            .find(|(_, j)| *j == job_id)
            .map(|(name, _)| name.as_str())
    }

    /// The token, or an error that says how to provide it.
    pub fn require_token(&self) -> Result<&Sourced<SecretString>, ConfigError> {
        self.token.as_ref().ok_or_else(|| ConfigError::Missing {
            what: "dbt Cloud API token".into(),
            how: format!(
                "set the environment variable {} (never put the token in datachonk.yaml)",
                self.token_env.value
            ),
        })
    }

    pub fn require_account_id(&self) -> Result<i64, ConfigError> {
        required(
            &self.account_id,
            "account id",
            "--account-id",
            "DBT_CLOUD_ACCOUNT_ID",
            "deploy.dbt_cloud.account_id",
        )
    }

    pub fn require_job_id(&self) -> Result<i64, ConfigError> {
        required(
            &self.job_id,
            "job id",
            "--job-id",
            "DBT_CLOUD_JOB_ID",
            "deploy.dbt_cloud.job_id",
        )
    }
}

fn required<T: Copy>(
    v: &Option<Sourced<T>>,
    what: &str,
    flag: &str,
    env: &str,
    key: &str,
) -> Result<T, ConfigError> {
    v.as_ref()
        .map(|s| s.value)
        .ok_or_else(|| ConfigError::Missing {
            what: format!("dbt Cloud {what}"),
            how: format!("pass {flag}, set {env}, or set {key} in datachonk.yaml"),
        })
}

/// The `cause` rules dbt Cloud enforces, checked before anything is sent.
pub fn validate_cause(cause: &str) -> Result<(), String> {
    let len = cause.chars().count();
    if cause.trim().is_empty() {
        return Err("the cause must not be empty".into());
    }
    if len > MAX_CAUSE_LEN {
        return Err(format!(
            "the cause is {len} characters long; dbt Cloud accepts at most {MAX_CAUSE_LEN}"
        ));
    }
    Ok(())
}
