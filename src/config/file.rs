//! Reading `datachonk.yaml`: the file's schema and its errors with file, line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::ConfigError;
pub use crate::io_limits::Origin;

pub const CONFIG_FILE_NAME: &str = "datachonk.yaml";

/// The file as written. Every leaf keeps its location for provenance and errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub deploy: Option<DeploySection>,
    pub generate: Option<super::generate::GenerateSection>,
    pub git: Option<super::git::GitSection>,
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

#[derive(Debug, Default, Deserialize)]
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

/// `timeout: 30m` or `timeout: 1800` (seconds).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(u64),
    Text(String),
}

/// Find `datachonk.yaml` in `start` or its ancestors, stopping at the repository root.
pub fn find_config_file(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join(CONFIG_FILE_NAME);
        // Anything by that name counts, so a directory called datachonk.yaml is refused when
        // read instead of being skipped (the user meant it as the configuration).
        if candidate.symlink_metadata().is_ok() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// Read and parse a configuration file.
pub fn read(path: &Path, origin: Origin) -> Result<ConfigFile, ConfigError> {
    parse(path, &read_text(path, origin)?)
}

/// The file's text, refusing what is not a regular file (a pipe only when the path was
/// given with `--config`) and anything too large to be a configuration file.
pub fn read_text(path: &Path, origin: Origin) -> Result<String, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Err(ConfigError::NotAFile {
            path: path.to_path_buf(),
            what: "a directory, not a configuration file",
        });
    }
    let read = || crate::io_limits::read_text(path, crate::io_limits::CONFIG_LIMIT, origin);
    let text = if origin == Origin::Named && is_pipe(&meta) {
        read_once(path, read)
    } else {
        read()
    };
    text.map_err(|source| {
        if source.kind() == std::io::ErrorKind::FileTooLarge {
            return ConfigError::NotAFile {
                path: path.to_path_buf(),
                what: "over 1 MiB: too large to be a configuration file",
            };
        }
        ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(unix)]
fn is_pipe(meta: &std::fs::Metadata) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type())
}

#[cfg(not(unix))]
fn is_pipe(_: &std::fs::Metadata) -> bool {
    false
}

/// A `--config` pipe (`--config <(…)`) is read once per process, however many sections load
/// it: a second read would find nothing left (or block for a writer that is gone).
fn read_once(
    path: &Path,
    read: impl FnOnce() -> std::io::Result<String>,
) -> std::io::Result<String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Cached = Result<String, (std::io::ErrorKind, String)>;
    static READ: OnceLock<Mutex<HashMap<PathBuf, Cached>>> = OnceLock::new();
    let mut cache = READ
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let entry = cache
        .entry(path.to_path_buf())
        .or_insert_with(|| read().map_err(|e| (e.kind(), e.to_string())));
    entry
        .clone()
        .map_err(|(kind, message)| std::io::Error::new(kind, message))
}

/// Where the configuration file's path came from (`--config`, or found by searching).
pub fn origin_of(options: &super::LoadOptions) -> Origin {
    if options.explicit_file.is_some() {
        Origin::Named
    } else {
        Origin::Found
    }
}

/// Parse configuration text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    let file: ConfigFile =
        serde_saphyr::from_str(text).map_err(|e| syntax_error(path, text, &e))?;
    if let Some(at) = &file.model {
        return Err(invalid(
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
                return Err(invalid(
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
                return Err(invalid(
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
                    return Err(invalid(
                        path,
                        text,
                        targets.referenced.line(),
                        targets.referenced.column(),
                        format!("deploy.dbt_cloud.targets.{name}: job_id is required"),
                        Some(format!("e.g. `{name}: {{job_id: 12345}}`")),
                    ));
                }
                if name.trim().is_empty() || name.contains(char::is_whitespace) {
                    return Err(invalid(
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
                return Err(invalid(
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
    Ok(file)
}

fn is_env_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with("dbtc_")
        && !s.starts_with("dbtu_")
}

fn syntax_error(path: &Path, text: &str, e: &serde_saphyr::Error) -> ConfigError {
    let (line, column, message) = yaml_error_parts(e);
    let (message, hint) = explain(&message);
    invalid(path, text, line, column, message, hint)
}

/// Line, column and the bare message of a YAML error, for every YAML file datachonk parses
/// (datachonk.yaml, the model spec). The crate renders "error: line L column C: MESSAGE" and
/// then its own snippet; only the message is kept (callers render their own, redacted).
pub(crate) fn yaml_error_parts(e: &serde_saphyr::Error) -> (u64, u64, String) {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let raw = e.to_string();
    let first = raw.lines().next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let message = match first.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest,
        _ => first,
    };
    (line, column, message.to_string())
}

/// serde's "unknown field `x`, expected one of `a`, `b`" → (`x`, [a, b]): read once for every
/// YAML file datachonk parses (datachonk.yaml, the model spec).
pub(crate) fn unknown_field(message: &str) -> Option<(&str, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, tail) = rest.split_once('`')?;
    let expected = tail
        .split_once("expected one of ")
        .map(|(_, list)| {
            list.split(',')
                .map(|s| s.trim().trim_matches('`').to_string())
                .collect()
        })
        .or_else(|| {
            tail.split_once("expected ")
                .map(|(_, one)| vec![one.trim().trim_matches('`').to_string()])
        })
        .unwrap_or_default();
    Some((field, expected))
}

/// Turn the parser's terse messages into ones that say what was expected.
fn explain(message: &str) -> (String, Option<String>) {
    if let Some((field, expected)) = unknown_field(message) {
        let public: Vec<&String> = expected
            .iter()
            .filter(|k| !matches!(k.as_str(), "token" | "api_token"))
            .collect();
        let suggestion = public
            .iter()
            .map(|k| (strsim::jaro_winkler(field, k), k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!("did you mean `{k}`?"));
        let known = public
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let message = format!("unknown key `{field}` (expected one of: {known})");
        return (message, suggestion);
    }
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (
            format!("`{key}` is set twice in the same block"),
            Some(format!("keep one `{key}:` line and remove the other")),
        );
    }
    if message.contains("budget breached") {
        return (
            "too large or too deeply nested to be a configuration file".into(),
            None,
        );
    }
    let message = match message {
        "expected string scalar" => {
            "expected a single value here (check for an unclosed `[`, `{` or quote)".to_string()
        }
        m if m.starts_with("invalid i64") || m.starts_with("invalid u64") => {
            "expected an integer".to_string()
        }
        m if m.starts_with("invalid bool") => "expected true or false".to_string(),
        m => m.to_string(),
    };
    (message, None)
}

pub(super) fn invalid(
    path: &Path,
    text: &str,
    line: u64,
    column: u64,
    message: String,
    hint: Option<String>,
) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line,
        column,
        message,
        snippet: snippet(text, line, column),
        hint,
    }
}

/// The offending line with a caret, with anything that looks like a secret blanked out.
fn snippet(text: &str, line: u64, column: u64) -> String {
    let Some(src) = line
        .checked_sub(1)
        .and_then(|i| text.lines().nth(i as usize))
    else {
        return String::new();
    };
    let src = redact_line(src);
    let width = line.to_string().len();
    let caret = " ".repeat(column.saturating_sub(1) as usize);
    format!("{:width$} |\n{line} | {src}\n{:width$} | {caret}^", "", "")
}

fn redact_line(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let secretish = ["token", "secret", "password"]
        .iter()
        .any(|k| lower.contains(k));
    match line.split_once(':') {
        Some((key, value)) if secretish && !value.trim().is_empty() => format!("{key}: <redacted>"),
        _ => line.to_string(),
    }
}
