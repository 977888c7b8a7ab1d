//! `datachonk.yaml` as a whole: the file's schema (each section's type comes from its own
//! module) and the checks that span sections. Reading and error positions: `reader.rs`.

use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
use super::generate::GenerateSection;
use super::git::GitSection;
use super::problems::Problems;
use super::reader::{self, invalid, DurationValue};
use super::spans;
pub use crate::io_limits::Origin;

/// The file as written. Every leaf keeps its location for provenance and errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub deploy: Option<DeploySection>,
    pub generate: Option<GenerateSection>,
    pub git: Option<GitSection>,
    /// Accepted by the parser only to refuse it with a precise message: the spec of
    /// entities, facts and metrics lives in `datachonk/*.yml` (issue 15).
    #[serde(default)]
    model: Option<Spanned<serde::de::IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    pub dbt_cloud: Option<DbtCloudSection>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbtCloudSection {
    pub access_url: Option<Spanned<String>>,
    pub account_id: Option<Spanned<i64>>,
    pub project_id: Option<Spanned<i64>>,
    pub environment_id: Option<Spanned<i64>>,
    pub job_id: Option<Spanned<i64>>,
    /// Name of the environment variable that holds the token (never the token itself).
    pub token_env: Option<Spanned<String>>,
    pub auto_trigger: Option<Spanned<bool>>,
    pub wait: Option<Spanned<bool>>,
    pub timeout: Option<Spanned<DurationValue>>,
    /// Retries of a run that ends in Error, from the point of failure (default 0).
    pub retries: Option<Spanned<i64>>,
    pub cause: Option<Spanned<String>>,
    pub schema_override: Option<Spanned<String>>,
    pub target_name_override: Option<Spanned<String>>,
    pub threads_override: Option<Spanned<i64>>,
    pub steps_override: Option<Spanned<Vec<String>>>,
    pub timeout_seconds_override: Option<Spanned<i64>>,
    pub dbt_version_override: Option<Spanned<String>>,
    pub generate_docs_override: Option<Spanned<bool>>,
    /// Pushing or triggering here changes production: ask first (`--yes` without a terminal).
    pub confirm: Option<Spanned<bool>>,
    /// Named targets, each overriding the values above (`dev`, `prod`, …).
    pub targets: Option<Spanned<std::collections::BTreeMap<String, TargetSection>>>,
    /// The target used when neither `--target` nor `DATACHONK_TARGET` names one.
    pub default_target: Option<Spanned<String>>,
    // Accepted by the parser only to refuse them with a precise message.
    #[serde(default)]
    token: Option<Spanned<serde::de::IgnoredAny>>,
    #[serde(default)]
    api_token: Option<Spanned<serde::de::IgnoredAny>>,
}

/// One named target: the job-level keys of `deploy.dbt_cloud`, each overriding the block's
/// value when this target is used. (`access_url`, `account_id` and the token are the block's.)
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    pub project_id: Option<Spanned<i64>>,
    pub environment_id: Option<Spanned<i64>>,
    pub job_id: Option<Spanned<i64>>,
    pub auto_trigger: Option<Spanned<bool>>,
    pub wait: Option<Spanned<bool>>,
    pub timeout: Option<Spanned<DurationValue>>,
    /// Retries of a run that ends in Error, from the point of failure (default 0).
    pub retries: Option<Spanned<i64>>,
    pub cause: Option<Spanned<String>>,
    pub confirm: Option<Spanned<bool>>,
    pub schema_override: Option<Spanned<String>>,
    pub target_name_override: Option<Spanned<String>>,
    pub threads_override: Option<Spanned<i64>>,
    pub steps_override: Option<Spanned<Vec<String>>>,
    pub timeout_seconds_override: Option<Spanned<i64>>,
    pub dbt_version_override: Option<Spanned<String>>,
    pub generate_docs_override: Option<Spanned<bool>>,
}

impl DbtCloudSection {
    /// The block with `target`'s values laid over it (the target's positions kept, so
    /// provenance points into the target).
    pub fn with_target(&self, target: &TargetSection) -> DbtCloudSection {
        fn over<T: Clone>(t: &Option<T>, base: &Option<T>) -> Option<T> {
            t.clone().or_else(|| base.clone())
        }
        DbtCloudSection {
            access_url: self.access_url.clone(),
            account_id: self.account_id.clone(),
            project_id: over(&target.project_id, &self.project_id),
            environment_id: over(&target.environment_id, &self.environment_id),
            job_id: over(&target.job_id, &self.job_id),
            token_env: self.token_env.clone(),
            auto_trigger: over(&target.auto_trigger, &self.auto_trigger),
            wait: over(&target.wait, &self.wait),
            timeout: over(&target.timeout, &self.timeout),
            retries: over(&target.retries, &self.retries),
            cause: over(&target.cause, &self.cause),
            schema_override: over(&target.schema_override, &self.schema_override),
            target_name_override: over(&target.target_name_override, &self.target_name_override),
            threads_override: over(&target.threads_override, &self.threads_override),
            steps_override: over(&target.steps_override, &self.steps_override),
            timeout_seconds_override: over(
                &target.timeout_seconds_override,
                &self.timeout_seconds_override,
            ),
            dbt_version_override: over(&target.dbt_version_override, &self.dbt_version_override),
            generate_docs_override: over(
                &target.generate_docs_override,
                &self.generate_docs_override,
            ),
            confirm: over(&target.confirm, &self.confirm),
            targets: None,
            default_target: None,
            token: None,
            api_token: None,
        }
    }
}

/// Read and parse a configuration file.
pub fn read(path: &Path, origin: Origin) -> Result<ConfigFile, ConfigError> {
    parse(path, &reader::read_text(path, origin)?)
}

/// Parse configuration text; `path` is only used in messages. Stops at the first problem the
/// parser meets; of the checks that follow, the first by position is returned.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    // The deserializer reads as it goes: a key it refuses may come before the place the
    // text stops being YAML, which is then the problem to report.
    let file: ConfigFile = serde_saphyr::from_str(text).map_err(|e| {
        yaml_syntax(path, text).unwrap_or_else(|| reader::syntax_error(path, text, &e))
    })?;
    let mut problems = Problems::default();
    check(&file, path, text, &mut problems);
    problems.into_result(file)
}

/// More problems than a person fixes in one sitting: stop listing there.
const MAX_PROBLEMS: usize = 200;

/// Each problem costs a read of the whole text: bound the total, so that a large file full
/// of mistakes is checked in moments, not minutes.
const READ_BUDGET: usize = 16 << 20;

/// Parse and note every problem, not only the first: each unknown key, wrongly typed value or
/// duplicate the parser meets is noted, then that entry is set aside (blanked, so every other
/// position stays put) and the text read again. `None` when the text cannot be read as YAML
/// at all (a syntax error: nothing after it is readable) or the file is no mapping.
pub fn parse_all(path: &Path, text: &str, problems: &mut Problems) -> Option<ConfigFile> {
    // A syntax error is the only problem: nothing after it can be read.
    if let Some(e) = yaml_syntax(path, text) {
        problems.push(e);
        return None;
    }
    // Blanking keeps every position, so the entries of the text as written hold throughout.
    let entries = spans::entries(text)?;
    let mut current = text.to_string();
    // Keys already set aside: the parser then misses a required one, which is no news.
    let mut set_aside: Vec<String> = Vec::new();
    let mut read = 0usize;
    loop {
        let e = match serde_saphyr::from_str::<ConfigFile>(&current) {
            Ok(file) => {
                check(&file, path, text, problems);
                return Some(file);
            }
            Err(e) => e,
        };
        let (line, column, message) = crate::yaml_read::error_parts(&e);
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'));
        // A missing field is the mapping's problem (the parser points at its first key).
        let entry = match missing {
            Some(_) => spans::mapping_at(&entries, text, line, column),
            None => spans::entry_at(&entries, text, line, column),
        };
        let cascade = match (&entry, missing) {
            (Some(block), Some(field)) => {
                set_aside.contains(&format!("{}.{field}", block.dotted()))
            }
            _ => false,
        };
        if !cascade {
            problems.push(reader::syntax_error_in(path, text, &e, Some(&entries)));
        }
        if message.contains("budget breached") {
            return None;
        }
        let entry = entry?;
        let next = spans::blank(&current, &entry);
        if next == current {
            return None;
        }
        read += current.len();
        if set_aside.len() + 1 >= MAX_PROBLEMS || read >= READ_BUDGET {
            problems.push(ConfigError::TooMany {
                path: path.to_path_buf(),
                shown: set_aside.len() + 1,
            });
            return None;
        }
        set_aside.push(entry.dotted());
        current = next;
    }
}

/// Where the text stops being YAML, if it does.
fn yaml_syntax(path: &Path, text: &str) -> Option<ConfigError> {
    let (line, column, info) = spans::syntax_error(text)?;
    Some(invalid(
        path,
        text,
        line,
        column,
        format!("not valid YAML: {info}"),
        syntax_hint(&info),
    ))
}

/// A word on the YAML mistakes people make most.
fn syntax_hint(info: &str) -> Option<String> {
    let info = info.to_ascii_lowercase();
    if info.contains("tab") {
        Some("indent with spaces, not tabs".into())
    } else if info.contains("mapping values are not allowed") {
        Some(
            "check the indentation of this line and the one above, and quote values that hold `: `"
                .into(),
        )
    } else {
        None
    }
}

/// The checks that span keys (a refused key, targets and their jobs, `token_env`), each
/// problem noted.
fn check(file: &ConfigFile, path: &Path, text: &str, problems: &mut Problems) {
    if let Some(at) = &file.model {
        problems.push(invalid(
            path,
            text,
            at.referenced.line(),
            at.referenced.column(),
            "model: entities, facts and metrics are not read from datachonk.yaml".into(),
            Some(
                "move the block's entities:, facts: and metrics: into datachonk/model.yml (any datachonk/*.yml): the spec lives there (README, \"Entities, facts and metrics\")"
                    .into(),
            ),
        ));
    }
    if let Some(dbt) = file.deploy.as_ref().and_then(|d| d.dbt_cloud.as_ref()) {
        for (key, at) in [("token", &dbt.token), ("api_token", &dbt.api_token)] {
            if let Some(at) = at {
                problems.push(invalid(
                    path,
                    text,
                    at.referenced.line(),
                    at.referenced.column(),
                    format!("deploy.dbt_cloud.{key}: a literal API token is not allowed in the configuration file"),
                    Some(
                        "remove it (and rotate it if it was committed); set DBT_CLOUD_API_TOKEN instead, \
                         or name another variable with `token_env: MY_TOKEN_VAR`"
                            .into(),
                    ),
                ));
            }
        }
        if let Some(targets) = &dbt.targets {
            if let Some(job) = &dbt.job_id {
                problems.push(invalid(
                    path,
                    text,
                    job.referenced.line(),
                    job.referenced.column(),
                    "deploy.dbt_cloud.job_id and deploy.dbt_cloud.targets cannot both be set: \
                     with targets, each target names its job"
                        .into(),
                    Some(
                        "move job_id into a target (targets: {dev: {job_id: ...}}) and set default_target"
                            .into(),
                    ),
                ));
            }
            for (name, target) in &targets.value {
                if target.job_id.is_none() {
                    problems.push(invalid(
                        path,
                        text,
                        targets.referenced.line(),
                        targets.referenced.column(),
                        format!("deploy.dbt_cloud.targets.{name}: job_id is required"),
                        Some(format!("e.g. `{name}: {{job_id: 12345}}`")),
                    ));
                }
                if name.trim().is_empty() || name.contains(char::is_whitespace) {
                    problems.push(invalid(
                        path,
                        text,
                        targets.referenced.line(),
                        targets.referenced.column(),
                        format!("deploy.dbt_cloud.targets: {name:?} is not a usable target name (no spaces)"),
                        None,
                    ));
                }
            }
        }
        if let Some(var) = &dbt.token_env {
            if !is_env_var_name(&var.value) {
                problems.push(invalid(
                    path,
                    text,
                    var.referenced.line(),
                    var.referenced.column(),
                    "deploy.dbt_cloud.token_env must be the NAME of an environment variable (letters, digits, _), \
                     not the token itself"
                        .into(),
                    Some("e.g. `token_env: DBT_CLOUD_API_TOKEN`; if a token was written here, rotate it".into()),
                ));
            }
        }
    }
}

fn is_env_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("dbtc_")
        && !s.starts_with("dbtu_")
}
