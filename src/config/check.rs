//! `config check`: every problem of the file and the environment in one run. Each section is
//! read on past its problems (see `file::parse_all`, and the sections' `resolve_into`), and
//! each named target is resolved on its own, so one run lists what would otherwise take one
//! run per fix. A YAML syntax error stays the only problem: nothing after it can be read.

use std::path::{Path, PathBuf};

use super::env::EnvSource;
use super::error::ConfigError;
use super::problems::Problems;
use super::reader::{origin_of, read_text};
use super::resolve::{config_path, resolve_file};
use super::types::{Config, FlagValues, LoadOptions};
use super::{file, generate, git, spans};

/// One problem, as `config check` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// The file it is in (`None`: a flag or an environment variable).
    pub file: Option<PathBuf>,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// The dotted key it is about, when it is in the file (`deploy.dbt_cloud.job_id`).
    pub key: Option<String>,
    /// What is wrong (`deploy.dbt_cloud.job_id: expected an integer`); the place is in
    /// `file`, `line` and `column`, and `Display` puts them in front.
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    /// A problem with no place in a file (a flag, an environment variable, the account).
    pub fn unplaced(message: String, hint: Option<String>) -> Problem {
        Problem {
            file: None,
            line: None,
            column: None,
            key: None,
            message,
            hint,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line, self.column) {
            (Some(file), Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", file.display(), self.message)
            }
            _ => f.write_str(&self.message),
        }
    }
}

/// What a check found.
#[derive(Debug)]
pub struct CheckReport {
    pub file: Option<PathBuf>,
    /// Sorted: the file's by line and column, then the flags' and the environment's.
    pub problems: Vec<Problem>,
    /// The deploy configuration as resolved (one per named target when none was chosen);
    /// meaningful only when `problems` is empty.
    pub configs: Vec<Config>,
}

/// Check the file `options` point at (if any) and the environment; `target` is `--target`.
pub fn check(options: &LoadOptions, target: Option<&str>, env: &dyn EnvSource) -> CheckReport {
    let mut problems = Problems::default();
    let path = match config_path(options) {
        Ok(p) => p,
        Err(e) => {
            problems.push(e);
            return report(None, "", problems, Vec::new());
        }
    };
    let (mut parsed, text) = match &path {
        None => (file::ConfigFile::default(), String::new()),
        Some(p) => {
            let text = match read_text(p, origin_of(options)) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(e);
                    return report(path.clone(), "", problems, Vec::new());
                }
            };
            match file::parse_all(p, &text, &mut problems) {
                Some(parsed) => (parsed, text),
                None => return report(path.clone(), &text, problems, Vec::new()),
            }
        }
    };
    let at = path.clone().unwrap_or_default();
    // The root only places `templates_dir`, which is not checked: the file's folder will do.
    let root = at.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(section) = parsed.generate.take() {
        generate::resolve_into(section, &at, &text, &root, &mut problems);
    }
    if let Some(section) = parsed.git.take() {
        git::resolve_into(section, &at, &text, &mut problems);
    }
    let flags = |target: Option<String>| FlagValues {
        target,
        ..FlagValues::default()
    };
    let chosen = target.map(str::to_string);
    let first = resolve_file(
        &parsed,
        path.clone(),
        &flags(chosen.clone()),
        env,
        &mut problems,
    );
    let configs = if chosen.is_some() || first.dbt_cloud.targets.is_empty() {
        vec![first]
    } else {
        first
            .dbt_cloud
            .targets
            .iter()
            .map(|name| {
                resolve_file(
                    &parsed,
                    path.clone(),
                    &flags(Some(name.clone())),
                    env,
                    &mut problems,
                )
            })
            .collect()
    };
    report(path, &text, problems, configs)
}

fn report(
    file: Option<PathBuf>,
    text: &str,
    problems: Problems,
    configs: Vec<Config>,
) -> CheckReport {
    let entries = spans::entries(text).unwrap_or_default();
    let problems = problems
        .sorted()
        .into_iter()
        .map(|e| problem(e, text, &entries))
        .collect();
    CheckReport {
        file,
        problems,
        configs,
    }
}

fn problem(e: ConfigError, text: &str, entries: &[spans::Entry]) -> Problem {
    let message = e.to_string();
    match e {
        ConfigError::Invalid {
            path,
            line,
            column,
            hint,
            message,
            ..
        } => Problem {
            key: spans::entry_at(entries, text, line, column).map(|e| e.dotted()),
            file: Some(path),
            line: Some(line),
            column: Some(column),
            message,
            hint,
        },
        ConfigError::Read { path, .. }
        | ConfigError::NotAFile { path, .. }
        | ConfigError::TooMany { path, .. } => Problem {
            file: Some(path),
            line: None,
            column: None,
            key: None,
            message,
            hint: None,
        },
        ConfigError::Missing { how, .. } => Problem::unplaced(message, Some(how)),
        ConfigError::BadEnv { .. } | ConfigError::BadFlag { .. } => {
            Problem::unplaced(message, None)
        }
    }
}
