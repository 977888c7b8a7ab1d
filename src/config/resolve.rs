//! Precedence, written to be read top to bottom: flag, then environment, then file, then default.

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde_saphyr::Spanned;

use super::env::{self, EnvSource};
use super::error::ConfigError;
use super::file::{self, ConfigFile, DbtCloudSection};
use super::problems::Problems;
use super::reader::{self, find_config_file, parse_duration, DurationValue};
use super::types::{
    Config, DbtCloudConfig, FlagValues, LoadOptions, Source, Sourced, TriggerOverrides,
    DEFAULT_ACCESS_URL,
};

/// Resolve the effective configuration; the first problem (by position) is the error.
pub fn load(
    options: &LoadOptions,
    flags: &FlagValues,
    env: &dyn EnvSource,
) -> Result<Config, ConfigError> {
    let path = config_path(options)?;
    let parsed = match &path {
        Some(p) => file::read(p, reader::origin_of(options))?,
        None => ConfigFile::default(),
    };
    let mut problems = Problems::default();
    let config = resolve_file(&parsed, path, flags, env, &mut problems);
    problems.into_result(config)
}

/// The configuration file to read: `--config`, else `datachonk.yaml` found upward.
pub(super) fn config_path(
    options: &LoadOptions,
) -> Result<Option<std::path::PathBuf>, ConfigError> {
    Ok(match &options.explicit_file {
        Some(p) => Some(p.clone()),
        None => {
            let start = match &options.start_dir {
                Some(d) => d.clone(),
                None => std::env::current_dir().map_err(|source| ConfigError::Read {
                    path: ".".into(),
                    source,
                })?,
            };
            find_config_file(&start)
        }
    })
}

/// `deploy.dbt_cloud` of a parsed file resolved against flags and environment; each problem
/// is noted and resolution goes on with the value left out (or its default).
pub(super) fn resolve_file(
    parsed: &ConfigFile,
    path: Option<std::path::PathBuf>,
    flags: &FlagValues,
    env: &dyn EnvSource,
    problems: &mut Problems,
) -> Config {
    let section = parsed
        .deploy
        .as_ref()
        .and_then(|d| d.dbt_cloud.as_ref())
        .cloned()
        .unwrap_or_default();
    let file_path = path.clone().unwrap_or_default();

    let targets: Vec<String> = section
        .targets
        .as_ref()
        .map(|t| t.value.keys().cloned().collect())
        .unwrap_or_default();
    let chosen = choose_target(&section, &file_path, flags, env).unwrap_or_else(|e| {
        problems.push(e);
        None
    });
    let mut dbt_cloud = match &chosen {
        Some((name, explicit)) => {
            let target = &section.targets.as_ref().expect("chosen from the map").value[&name.value];
            let effective = section.with_target(target);
            // Named on purpose (flag or DATACHONK_TARGET): the target's own ids beat the
            // DBT_CLOUD_* variables, which may be set for another job in the same shell.
            let mut hidden = Vec::new();
            if *explicit {
                for (set, var) in [
                    (target.job_id.is_some(), env::JOB_ID),
                    (target.project_id.is_some(), env::PROJECT_ID),
                    (target.environment_id.is_some(), env::ENVIRONMENT_ID),
                ] {
                    if set {
                        hidden.push(var);
                    }
                }
            }
            let env = env::Hiding { inner: env, hidden };
            resolve_dbt_cloud(&effective, &file_path, flags, &env, problems)
        }
        None => resolve_dbt_cloud(&section, &file_path, flags, env, problems),
    };
    dbt_cloud.target = chosen.map(|(name, _)| name);
    dbt_cloud.targets = targets;
    dbt_cloud.protected_jobs = protected_jobs(&section);
    Config {
        file: path,
        dbt_cloud,
    }
}

/// Jobs that change production: each target's job when the target (or the block it
/// inherits from) says `confirm: true`, and the block's own job when the block says so.
fn protected_jobs(s: &DbtCloudSection) -> Vec<(String, i64)> {
    let confirm = |c: &Option<Spanned<bool>>| c.as_ref().map(|c| c.value);
    let mut jobs = Vec::new();
    if let (Some(true), Some(job)) = (confirm(&s.confirm), &s.job_id) {
        jobs.push(("deploy.dbt_cloud".to_string(), job.value));
    }
    for (name, t) in s.targets.iter().flat_map(|t| t.value.iter()) {
        let on = confirm(&t.confirm).or(confirm(&s.confirm)).unwrap_or(false);
        if let (true, Some(job)) = (on, t.job_id.as_ref().or(s.job_id.as_ref())) {
            jobs.push((name.clone(), job.value));
        }
    }
    jobs
}

/// The target to use: `--target` > `DATACHONK_TARGET` > `default_target`; with it, whether it
/// was named on purpose (flag or environment) rather than by the file's default.
fn choose_target(
    s: &DbtCloudSection,
    path: &Path,
    flags: &FlagValues,
    env: &dyn EnvSource,
) -> Result<Option<(Sourced<String>, bool)>, ConfigError> {
    let named = if let Some(t) = &flags.target {
        Some((
            Sourced::new(t.clone(), Source::Flag("--target".into())),
            true,
        ))
    } else if let Some(t) = env.get(env::TARGET) {
        Some((
            Sourced::new(t.trim().to_string(), Source::Env(env::TARGET.into())),
            true,
        ))
    } else {
        s.default_target
            .as_ref()
            .map(|d| (Sourced::new(d.value.clone(), file_source(path, d)), false))
    };
    let Some((name, explicit)) = named else {
        return Ok(None);
    };
    let known: Vec<&String> = s
        .targets
        .as_ref()
        .map(|t| t.value.keys().collect())
        .unwrap_or_default();
    if known.iter().any(|k| **k == name.value) {
        return Ok(Some((name, explicit)));
    }
    let message = if known.is_empty() {
        format!(
            "target `{}`: datachonk.yaml defines no targets (deploy.dbt_cloud.targets)",
            crate::redact::clip(&name.value, crate::redact::ECHO_LIMIT)
        )
    } else {
        let suggestion = known
            .iter()
            .map(|k| (strsim::jaro_winkler(&name.value, k), k))
            .filter(|(score, _)| *score > 0.7)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        format!(
            "unknown target `{}` (known: {}){suggestion}",
            crate::redact::clip(&name.value, crate::redact::ECHO_LIMIT),
            known
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(invalid_value(&name.source, "default_target", message, path))
}

fn file_source<T>(path: &Path, s: &Spanned<T>) -> Source {
    Source::File {
        path: path.to_path_buf(),
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

/// flag > env > file, for one value.
fn pick<T: Clone>(
    flag: Option<(T, &str)>,
    env_value: Option<(T, &str)>,
    file_value: Option<&Spanned<T>>,
    path: &Path,
) -> Option<Sourced<T>> {
    if let Some((v, name)) = flag {
        return Some(Sourced::new(v, Source::Flag(name.to_string())));
    }
    if let Some((v, var)) = env_value {
        return Some(Sourced::new(v, Source::Env(var.to_string())));
    }
    file_value.map(|s| Sourced::new(s.value.clone(), file_source(path, s)))
}

fn env_i64(
    env: &dyn EnvSource,
    var: &'static str,
) -> Result<Option<(i64, &'static str)>, ConfigError> {
    match env.get(var) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<i64>()
            .map(|v| Some((v, var)))
            .map_err(|_| ConfigError::BadEnv {
                var: var.into(),
                message: format!(
                    "expected an integer id, got {:?}",
                    crate::redact::clip(&raw, crate::redact::ECHO_LIMIT)
                ),
            }),
    }
}

fn resolve_dbt_cloud(
    s: &DbtCloudSection,
    path: &Path,
    flags: &FlagValues,
    env: &dyn EnvSource,
    problems: &mut Problems,
) -> DbtCloudConfig {
    // A bad value is noted and left out, so the rest is still checked.
    let mut noted = |r: Result<Option<(i64, &'static str)>, ConfigError>| {
        r.unwrap_or_else(|e| {
            problems.push(e);
            None
        })
    };
    let account_env = noted(env_i64(env, env::ACCOUNT_ID));
    let project_env = noted(env_i64(env, env::PROJECT_ID));
    let environment_env = noted(env_i64(env, env::ENVIRONMENT_ID));
    let job_env = noted(env_i64(env, env::JOB_ID));
    // Access URL: --access-url > DBT_CLOUD_ACCESS_URL > DBT_CLOUD_HOST > file > default.
    let given = if let Some(url) = &flags.access_url {
        Some((
            normalize_url(url, "--access-url"),
            Source::Flag("--access-url".into()),
        ))
    } else if let Some(url) = env.get(env::ACCESS_URL) {
        Some((
            normalize_url(&url, env::ACCESS_URL),
            Source::Env(env::ACCESS_URL.into()),
        ))
    } else if let Some(host) = env.get(env::HOST) {
        let url = if host.contains("://") {
            host
        } else {
            format!("https://{}", host.trim())
        };
        Some((
            normalize_url(&url, env::HOST),
            Source::Env(env::HOST.into()),
        ))
    } else {
        s.access_url.as_ref().map(|url| {
            let normalized =
                normalize_url(&url.value, "deploy.dbt_cloud.access_url").map_err(|e| match e {
                    ConfigError::BadFlag { message, .. } => ConfigError::Invalid {
                        path: path.to_path_buf(),
                        line: url.referenced.line(),
                        column: url.referenced.column(),
                        message: format!("deploy.dbt_cloud.access_url: {message}"),
                        snippet: String::new(),
                        hint: None,
                    },
                    other => other,
                });
            (normalized, file_source(path, url))
        })
    };
    let access_url = match given {
        Some((Ok(url), source)) => Sourced::new(url, source),
        Some((Err(e), _)) => {
            problems.push(e);
            Sourced::new(DEFAULT_ACCESS_URL.to_string(), Source::Default)
        }
        None => Sourced::new(DEFAULT_ACCESS_URL.to_string(), Source::Default),
    };

    let token_env = match &s.token_env {
        Some(v) => Sourced::new(v.value.clone(), file_source(path, v)),
        None => Sourced::new(env::TOKEN.to_string(), Source::Default),
    };
    let token = env.get(&token_env.value).map(|t| {
        Sourced::new(
            SecretString::from(t.trim().to_string()),
            Source::Env(token_env.value.clone()),
        )
    });

    let flag = |v: Option<i64>, name: &'static str| v.map(|v| (v, name));
    let account_id = pick(
        flag(flags.account_id, "--account-id"),
        account_env,
        s.account_id.as_ref(),
        path,
    );
    let project_id = pick(
        flag(flags.project_id, "--project-id"),
        project_env,
        s.project_id.as_ref(),
        path,
    );
    let environment_id = pick(
        flag(flags.environment_id, "--environment-id"),
        environment_env,
        s.environment_id.as_ref(),
        path,
    );
    let job_id = pick(
        flag(flags.job_id, "--job-id"),
        job_env,
        s.job_id.as_ref(),
        path,
    );

    let auto_trigger = pick(None, None, s.auto_trigger.as_ref(), path)
        .unwrap_or(Sourced::new(false, Source::Default));
    let wait = pick(
        flags.wait.filter(|w| *w).map(|w| (w, "--wait")),
        None,
        s.wait.as_ref(),
        path,
    )
    .unwrap_or(Sourced::new(false, Source::Default));

    let timeout = match &flags.timeout {
        Some(text) => match parse_duration(text) {
            Ok(d) => Some(Sourced::new(d, Source::Flag("--timeout".into()))),
            Err(message) => {
                problems.push(ConfigError::BadFlag {
                    flag: "--timeout".into(),
                    message,
                });
                None
            }
        },
        None => match &s.timeout {
            Some(v) => {
                let d = match &v.value {
                    DurationValue::Seconds(secs) => Ok(Duration::from_secs(*secs)),
                    DurationValue::Text(t) => parse_duration(t),
                };
                match d {
                    Ok(d) => Some(Sourced::new(d, file_source(path, v))),
                    Err(message) => {
                        problems.push(ConfigError::Invalid {
                            path: path.to_path_buf(),
                            line: v.referenced.line(),
                            column: v.referenced.column(),
                            message: format!("deploy.dbt_cloud.timeout: {message}"),
                            snippet: String::new(),
                            hint: None,
                        });
                        None
                    }
                }
            }
            None => None,
        },
    };

    let text_flag = |v: &Option<String>, name: &'static str| v.clone().map(|v| (v, name));
    let cause = pick(
        text_flag(&flags.cause, "--cause"),
        None,
        s.cause.as_ref(),
        path,
    );
    if let Some(c) = &cause {
        if let Err(e) = super::types::validate_cause(&c.value).map_err(|message| match &c.source {
            Source::Flag(f) => ConfigError::BadFlag {
                flag: f.clone(),
                message,
            },
            _ => ConfigError::Invalid {
                path: path.to_path_buf(),
                line: s.cause.as_ref().map_or(0, |v| v.referenced.line()),
                column: s.cause.as_ref().map_or(0, |v| v.referenced.column()),
                message: format!("deploy.dbt_cloud.cause: {message}"),
                snippet: String::new(),
                hint: None,
            },
        }) {
            problems.push(e);
        }
    }

    let overrides = TriggerOverrides {
        schema_override: pick(
            text_flag(&flags.schema_override, "--schema-override"),
            None,
            s.schema_override.as_ref(),
            path,
        ),
        target_name_override: pick(
            text_flag(&flags.target_name_override, "--target-name-override"),
            None,
            s.target_name_override.as_ref(),
            path,
        ),
        threads_override: pick(
            flag(flags.threads_override, "--threads-override"),
            None,
            s.threads_override.as_ref(),
            path,
        ),
        steps_override: pick(
            flags
                .steps_override
                .clone()
                .filter(|v| !v.is_empty())
                .map(|v| (v, "--steps-override")),
            None,
            s.steps_override.as_ref(),
            path,
        ),
        timeout_seconds_override: pick(
            flag(flags.timeout_seconds_override, "--timeout-seconds-override"),
            None,
            s.timeout_seconds_override.as_ref(),
            path,
        ),
        dbt_version_override: pick(
            text_flag(&flags.dbt_version_override, "--dbt-version-override"),
            None,
            s.dbt_version_override.as_ref(),
            path,
        ),
        generate_docs_override: pick(
            flags
                .generate_docs_override
                .map(|v| (v, "--generate-docs-override")),
            None,
            s.generate_docs_override.as_ref(),
            path,
        ),
    };

    for (key, value) in [
        ("account_id", &account_id),
        ("project_id", &project_id),
        ("environment_id", &environment_id),
        ("job_id", &job_id),
    ] {
        at_least(value, key, 1, "an id is a positive integer", path, problems);
    }
    at_least(
        &overrides.threads_override,
        "threads_override",
        1,
        "dbt needs at least one thread",
        path,
        problems,
    );
    at_least(
        &overrides.timeout_seconds_override,
        "timeout_seconds_override",
        0,
        "0 means no timeout",
        path,
        problems,
    );
    if let Some(t) = &timeout {
        if t.value.is_zero() {
            problems.push(invalid_value(
                &t.source,
                "timeout",
                "must be longer than 0s (leave it out to wait without a limit)".into(),
                path,
            ));
        }
    }

    let confirm =
        pick(None, None, s.confirm.as_ref(), path).unwrap_or(Sourced::new(false, Source::Default));
    let retries = pick(
        flag(flags.retries, "--retries"),
        None,
        s.retries.as_ref(),
        path,
    );
    at_least(&retries, "retries", 0, "0 means no retries", path, problems);
    let retries = retries.unwrap_or(Sourced::new(0, Source::Default));

    DbtCloudConfig {
        target: None,
        targets: Vec::new(),
        confirm,
        protected_jobs: Vec::new(),
        access_url,
        token,
        token_env,
        account_id,
        project_id,
        environment_id,
        job_id,
        auto_trigger,
        wait,
        timeout,
        retries,
        cause,
        overrides,
    }
}

/// Refuse a number below `min` (ids of 0 or less, negative thread counts) where it was given.
fn at_least(
    value: &Option<Sourced<i64>>,
    key: &str,
    min: i64,
    why: &str,
    path: &Path,
    problems: &mut Problems,
) {
    if let Some(v) = value.as_ref().filter(|v| v.value < min) {
        problems.push(invalid_value(
            &v.source,
            key,
            format!("must be {min} or more, got {} ({why})", v.value),
            path,
        ));
    }
}

/// An error about `key`, pointing at the flag, variable or file position that set it.
fn invalid_value(source: &Source, key: &str, message: String, path: &Path) -> ConfigError {
    match source {
        Source::Flag(flag) => ConfigError::BadFlag {
            flag: flag.clone(),
            message,
        },
        Source::Env(var) => ConfigError::BadEnv {
            var: var.clone(),
            message,
        },
        Source::File { line, column, .. } => ConfigError::Invalid {
            path: path.to_path_buf(),
            line: *line,
            column: *column,
            message: format!("deploy.dbt_cloud.{key}: {message}"),
            snippet: String::new(),
            hint: None,
        },
        Source::Default | Source::Project(_) => ConfigError::BadEnv {
            var: key.to_string(),
            message,
        },
    }
}

/// Check an access URL and drop any trailing slash: `https://host[:port]` with no path.
fn normalize_url(raw: &str, origin: &str) -> Result<String, ConfigError> {
    let bad = |message: String| ConfigError::BadFlag {
        flag: origin.to_string(),
        message,
    };
    // Messages quote what was given, with any token in it hidden (userinfo, query values).
    let shown = crate::redact::url(&crate::redact::clip(raw.trim(), crate::redact::ECHO_LIMIT));
    let url = url::Url::parse(raw.trim()).map_err(|e| {
        // Not echoed: what fails to parse as a URL may be a token pasted into the wrong place.
        bad(format!(
            "the value is not a URL ({e}); expected e.g. https://cloud.getdbt.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "{shown:?} must start with https:// (or http:// for a local sandbox)"
        )));
    }
    if url.host_str().is_none() {
        return Err(bad(format!("{shown:?} has no host")));
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        return Err(bad(format!(
            "{shown:?} must be the access URL only, without a path such as {path:?} (e.g. https://emea.dbt.com)"
        )));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad(format!(
            "{shown:?} must not carry a query string, a #fragment or credentials"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}
