//! `hook run pre-push`, the offline half: are the generated files what `datachonk generate`
//! would write now? With a recorded local input (catalog.json, sources YAML) this is exactly
//! `generate --check` (same planning code, and the per-file input fingerprints in
//! `.datachonk/state.json` let unchanged files skip rendering). With a network input (a
//! database, dbt Cloud) nothing is re-read: each recorded file must still exist with the
//! checksum datachonk wrote.

use std::path::Path;

use serde::Serialize;

use crate::config::GenerateConfig;
use crate::generate::plan::{self, Action};
use crate::generate::reconcile::state::{sha256_hex, InputKind, LastRun, RecordedInput, State};
use crate::generate::{self, GenerateError, Input, Request};

/// How the files were checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Re-planned from the recorded input, as `generate --check`.
    Regenerated { input: String },
    /// Compared with the checksums in the state only; `why` says why not regenerated.
    Checksums { why: String },
    /// The recorded local input (`input`, relative to the project) is missing, so the files
    /// could not be checked against the metadata: only their checksums were. A failure, not a
    /// pass: a clone without the input must not wave stale files through.
    InputMissing { input: String },
    /// datachonk has generated nothing here.
    NothingGenerated,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleFile {
    pub path: String,
    /// `new`, `changed`, `edited-by-hand`, `missing`, `modified`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PrePushReport {
    #[serde(flatten)]
    pub method: Method,
    pub checked: usize,
    pub stale: Vec<StaleFile>,
    /// The command that brings the files up to date.
    pub fix: Option<String>,
}

/// Check the generated files under `root` against `state` (read by the caller).
pub fn check(
    root: &Path,
    config: &GenerateConfig,
    state: &State,
) -> Result<PrePushReport, GenerateError> {
    let local = state
        .last_run
        .as_ref()
        .and_then(|run| local_input(root, run).map(|input| (run, input)));
    if let Some((run, input)) = &local {
        if input_path(input).exists() {
            return regenerate(root, config, state, run, input.clone());
        }
    }
    if state.files.is_empty() {
        return Ok(PrePushReport {
            method: Method::NothingGenerated,
            checked: 0,
            stale: Vec::new(),
            fix: None,
        });
    }
    if let Some((run, _)) = local {
        let input = run.input.path.clone().unwrap_or_default();
        let mut report = checksums(root, state, String::new(), Some(fix_command(run)));
        report.method = Method::InputMissing { input };
        return Ok(report);
    }
    let why = match &state.last_run {
        None => "the state does not say which input generate last read (run `datachonk generate` once to record it)".to_string(),
        Some(run) => match (run.input.kind, &run.input.path) {
            (InputKind::Postgres, _) => "the last input was a database: the warehouse was not re-read".into(),
            (InputKind::Cloud, _) => "the last input was a dbt Cloud catalog: it was not fetched again".into(),
            (InputKind::Warehouse, _) => "the last input was the warehouse (through dbt): it was not re-read".into(),
            _ => "the last input is not recorded".into(),
        },
    };
    let fix = state.last_run.as_ref().map(fix_command);
    Ok(checksums(root, state, why, fix))
}

fn input_path(input: &Input) -> &Path {
    match input {
        Input::Catalog(p) | Input::SourcesYaml(p) => p,
        Input::Postgres(_) | Input::Warehouse(_) | Input::Spec => Path::new(""),
    }
}

fn local_input(root: &Path, run: &LastRun) -> Option<Input> {
    let path = run.input.path.as_deref()?;
    let path = root.join(path);
    match run.input.kind {
        InputKind::Catalog => Some(Input::Catalog(path)),
        InputKind::Sources => Some(Input::SourcesYaml(path)),
        InputKind::Postgres | InputKind::Cloud | InputKind::Warehouse => None,
    }
}

fn regenerate(
    root: &Path,
    config: &GenerateConfig,
    state: &State,
    run: &LastRun,
    input: Input,
) -> Result<PrePushReport, GenerateError> {
    let request = Request {
        root: root.to_path_buf(),
        config: config.clone(),
        input,
        // What earlier runs chose, as `generate --check` judges it: not every table of the
        // catalog when only some were ever generated.
        selection: crate::generate::reconcile::state::remembered(state),
        force: false,
        include_staged: false,
        manifest: None,
        last_run: None,
    };
    let planned = generate::plan(&request)?;
    let stale = planned
        .files
        .iter()
        .filter(|f| f.action == Action::Write)
        .map(|f| StaleFile {
            path: f.path.clone(),
            reason: f.status.label().to_string(),
        })
        .collect();
    let summary = plan::summarize(&planned.files);
    Ok(PrePushReport {
        method: Method::Regenerated {
            input: run.input.path.clone().unwrap_or_default(),
        },
        checked: planned.files.len() - summary.skipped,
        stale,
        fix: Some(fix_command(run)),
    })
}

fn checksums(root: &Path, state: &State, why: String, fix: Option<String>) -> PrePushReport {
    let mut stale = Vec::new();
    for (path, record) in &state.files {
        let reason = match std::fs::read(root.join(path)) {
            Ok(bytes) if sha256_hex(&bytes) == record.sha256 => continue,
            Ok(_) => "modified",
            Err(_) => "missing",
        };
        stale.push(StaleFile {
            path: path.clone(),
            reason: reason.into(),
        });
    }
    PrePushReport {
        method: Method::Checksums { why },
        checked: state.files.len(),
        stale,
        fix,
    }
}

/// The `datachonk generate` command line that would bring the files up to date.
pub fn fix_command(run: &LastRun) -> String {
    let input = match (run.input.kind, run.input.path.as_deref()) {
        (InputKind::Catalog, Some(p)) => format!("--from-catalog {}", shell_word(p)),
        (InputKind::Sources, Some(p)) => format!("--from-sources {}", shell_word(p)),
        (InputKind::Cloud, _) => "--from-catalog cloud".into(),
        (InputKind::Postgres, _) => "--from-postgres URL".into(),
        (InputKind::Warehouse, _) => "--from-warehouse SCHEMA".into(),
        (_, None) => "--from-catalog PATH".into(),
    };
    let mut cmd = "datachonk generate".to_string();
    for s in &run.selection {
        cmd.push(' ');
        cmd.push_str(&shell_word(s));
    }
    cmd.push(' ');
    cmd.push_str(&input);
    cmd
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What `datachonk generate` records about its input: a local path relative to `root`, with
/// `..` when it is outside (an absolute path would point every clone at the original
/// checkout's file); network inputs by kind only.
pub fn record_input(root: &Path, kind: InputKind, path: Option<&Path>) -> RecordedInput {
    let path = path.map(|p| {
        let absolute = std::env::current_dir()
            .map(|cwd| cwd.join(p))
            .unwrap_or_else(|_| p.to_path_buf());
        let absolute = absolute.canonicalize().unwrap_or(absolute);
        let root = std::env::current_dir()
            .map(|cwd| cwd.join(root))
            .unwrap_or_else(|_| root.to_path_buf());
        let root = root.canonicalize().unwrap_or(root);
        slash_path(&relative_to(&absolute, &root))
    });
    RecordedInput { kind, path }
}

/// `path` relative to `base` (both absolute), going up with `..` as far as needed. On
/// Windows, a path on another drive stays absolute.
fn relative_to(path: &Path, base: &Path) -> std::path::PathBuf {
    let (p, b): (Vec<_>, Vec<_>) = (path.components().collect(), base.components().collect());
    if p.first() != b.first() {
        return path.to_path_buf();
    }
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_recorded_relative_to_the_project_even_outside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo/analytics");
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::write(root.join("target/catalog.json"), "{}").unwrap();
        std::fs::write(dir.path().join("catalog.json"), "{}").unwrap();
        let inside = record_input(
            &root,
            InputKind::Catalog,
            Some(&root.join("target/catalog.json")),
        );
        assert_eq!(inside.path.as_deref(), Some("target/catalog.json"));
        let outside = record_input(
            &root,
            InputKind::Catalog,
            Some(&dir.path().join("catalog.json")),
        );
        assert_eq!(outside.path.as_deref(), Some("../../catalog.json"));
        assert_eq!(record_input(&root, InputKind::Postgres, None).path, None);
    }

    #[test]
    fn fix_command_quotes_globs_and_names_the_input() {
        let run = LastRun {
            input: RecordedInput {
                kind: InputKind::Catalog,
                path: Some("target/catalog.json".into()),
            },
            selection: vec!["shop.*".into(), "crm".into()],
        };
        assert_eq!(
            fix_command(&run),
            "datachonk generate 'shop.*' crm --from-catalog target/catalog.json"
        );
    }
}
