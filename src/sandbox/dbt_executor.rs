//! The `dbt` executor: after the clone, steps 2.. of a run with real dbt-core against DuckDB.
//!
//! - Step 2 writes a `profiles.yml` for the project's profile: DuckDB at a file the sandbox
//!   keeps per environment (`<workdir>/warehouse/env_<id>.duckdb`), so successive runs share a
//!   warehouse like a real deployment does.
//! - Step 3 is `dbt deps` when the project has `packages.yml`/`dependencies.yml` (otherwise the
//!   step is shown, as in dbt Cloud, but dbt is not started: it would only say so in 2.5 s).
//! - Then each command, then `dbt docs generate` when asked. Real stdout/stderr are the step's
//!   `logs`, dbt's `dbt.log` its `debug_logs`, the exit code its status; the first failure ends
//!   the run and the remaining steps are listed as skipped. Each step's artifacts (the files
//!   of `target/` it wrote) are kept under `<workdir>/runs/<id>/steps/<index>/`.
//! - A retry (`POST runs/{id}/retry/`) runs `dbt retry` in place of the failed command, with
//!   the failed step's `run_results.json` in `target/`: only the failed and skipped nodes run.
//! - `--state PATH` gets the manifest of the latest successful run of the job's
//!   `deferring_job_definition_id`, else of any job in `deferring_environment_id`, else of the
//!   job itself. With no such run, dbt Cloud runs without deferral; so do we: `--defer`,
//!   `--favor-state`, `--state PATH` and `state:` selection terms are dropped (a `--select`
//!   left empty is dropped too, so the step builds everything), and the log says so.
//!
//! dbt runs with a cleared environment (PATH, locale, a per-run HOME): the sandbox's own
//! tokens and whatever secrets its parent process holds never reach dbt or its logs, and the
//! fixture's tokens are masked in any log text as a second line of defence.

use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use super::app_state::lock;
use super::artifacts;
use super::executor::{RunStatus, StepEnd, StepPlan};
use super::live_run::{plain_step, Worker};
use super::manifest_from_checkout;
use crate::child::{self as process, Ending};

/// How a step ended, for the run.
enum StepVerdict {
    Continue,
    Stop,
}

/// Steps 2.. of a `dbt` run.
pub(crate) fn run_steps(w: &Worker, dbt: &Path, project_dir: &Path) {
    let connection = w.order.environment.connection.clone();
    let profiles_dir = w.run_dir.join("profiles");
    let position = w.begin_step(
        &format!("Create Profile from Connection {connection}"),
        None,
    );
    match write_profile(w, project_dir, &profiles_dir) {
        Ok(log) => w.end_step(position, plain_step(StepEnd::Success, log)),
        Err(message) => {
            w.end_step(position, plain_step(StepEnd::Error, format!("{message}\n")));
            return w.finish(Some(message), Vec::new());
        }
    }
    let ctx = Invocation {
        w,
        dbt,
        project_dir,
        profiles_dir: &profiles_dir,
    };

    let has_packages = ["packages.yml", "dependencies.yml"]
        .iter()
        .any(|f| project_dir.join(f).is_file());
    if has_packages {
        if let StepVerdict::Stop = ctx.invoke("dbt deps", false) {
            return;
        }
    } else {
        w.instant_step(
            "Invoke dbt with `dbt deps`",
            StepEnd::Success,
            "No packages.yml or dependencies.yml in the project: no packages to install.\n".into(),
        );
    }
    let mut commands: Vec<(String, bool)> = Vec::new();
    if w.order.job.run_generate_sources {
        // dbt Cloud's "run source freshness" step never fails the run.
        commands.push(("dbt source freshness".into(), true));
    }
    commands.extend(w.order.commands.iter().map(|c| (c.clone(), false)));
    if w.order.generate_docs {
        commands.push(("dbt docs generate".into(), false));
    }
    if let Some(state) = &w.order.retry_state {
        // A retry re-runs the failed step as `dbt retry`, which reads the failed run's
        // `run_results.json` from `target/` and runs only what failed or was skipped.
        if let Some(first) = commands
            .iter_mut()
            .find(|(c, _)| !c.contains("source freshness"))
        {
            first.0 = "dbt retry".into();
        }
        let target = project_dir.join("target");
        let copied = std::fs::create_dir_all(&target).and_then(|_| {
            std::fs::copy(
                state.join("run_results.json"),
                target.join("run_results.json"),
            )
        });
        if let Err(e) = copied {
            let message = format!("The run to retry kept no run_results.json: {e}");
            w.instant_step(
                "Invoke dbt with `dbt retry`",
                StepEnd::Error,
                format!("{message}\n"),
            );
            return w.finish(Some(message), Vec::new());
        }
    }
    for (i, (command, tolerated)) in commands.iter().enumerate() {
        if let StepVerdict::Stop = ctx.invoke(command, *tolerated) {
            let skipped = commands[i + 1..]
                .iter()
                .map(|(c, _)| StepPlan {
                    name: step_name(c),
                    command: Some(c.clone()),
                    ..plain_step(StepEnd::Success, String::new())
                })
                .collect();
            w.record(|run| run.plan.skipped = skipped);
            return;
        }
    }
    w.finish(None, Vec::new());
}

fn step_name(command: &str) -> String {
    format!("Invoke dbt with `{command}`")
}

/// The DuckDB file of an environment.
pub(crate) fn warehouse_path(workdir: &Path, environment_id: i64) -> PathBuf {
    workdir
        .join("warehouse")
        .join(format!("env_{environment_id}.duckdb"))
}

/// A YAML scalar (JSON strings are valid YAML and escape everything).
fn yaml(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Step 2: `profiles.yml` for the project's profile and the job's target.
fn write_profile(w: &Worker, project_dir: &Path, profiles_dir: &Path) -> Result<String, String> {
    // A missing or broken dbt_project.yml is dbt's to report (at deps or the first command),
    // in its own words; the profile then goes under the name dbt Cloud would use.
    let profile = manifest_from_checkout::scan(project_dir)
        .map(|p| p.profile)
        .unwrap_or_else(|_| "default".into());
    let workdir = &w.state.workdir;
    let db = warehouse_path(workdir, w.order.environment.id);
    let dir = db.parent().unwrap_or(workdir);
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::create_dir_all(profiles_dir))
        .map_err(|e| format!("The sandbox cannot prepare the profile: {e}"))?;
    let target = &w.order.target_name;
    let mut text = format!(
        "{}:\n  target: {}\n  outputs:\n    {}:\n      type: duckdb\n      path: {}\n      threads: {}\n",
        yaml(&profile),
        yaml(target),
        yaml(target),
        yaml(&db.display().to_string()),
        w.order.threads.max(1),
    );
    if let Some(schema) = &w.order.schema {
        text.push_str(&format!("      schema: {}\n", yaml(schema)));
    }
    // Deferring to another environment: its warehouse file is attached (read-only) under its
    // own database name, so deferred refs resolve as they would in one shared warehouse.
    let other = deferral_environment(w).filter(|e| *e != w.order.environment.id);
    if let Some(env) = other {
        let path = warehouse_path(workdir, env);
        if path.is_file() {
            text.push_str(&format!(
                "      attach:\n        - path: {}\n          read_only: true\n",
                yaml(&path.display().to_string())
            ));
        }
    }
    let file = profiles_dir.join("profiles.yml");
    std::fs::write(&file, text)
        .map_err(|e| format!("The sandbox cannot write the profile: {e}"))?;
    Ok(format!(
        "Creating profile from connection {}\nWrote {}: profile '{profile}', target '{target}' (DuckDB at {})\n",
        w.order.environment.connection,
        file.display(),
        db.display()
    ))
}

/// The environment whose runs this job defers to, if it says.
fn deferral_environment(w: &Worker) -> Option<i64> {
    match (
        w.order.job.deferring_job_definition_id,
        w.order.job.deferring_environment_id,
    ) {
        (Some(job), _) => w.state.fixture().job(job).map(|j| j.environment_id),
        (None, env) => env,
    }
}

struct Invocation<'a> {
    w: &'a Worker,
    dbt: &'a Path,
    project_dir: &'a Path,
    profiles_dir: &'a Path,
}

impl Invocation<'_> {
    /// One "Invoke dbt with `...`" step. `tolerated`: a failure does not end the run.
    fn invoke(&self, command: &str, tolerated: bool) -> StepVerdict {
        let w = self.w;
        let position = w.begin_step(&step_name(command), Some(command));
        let index = position + 1;
        let step_dir = w.run_dir.join("steps").join(index.to_string());
        let log_dir = step_dir.join("logs");
        let mut log = String::new();
        let args = match split_command(command) {
            Some(args) if args.first().map(String::as_str) == Some("dbt") => args,
            _ => {
                let message = format!(
                    "Invalid command `{command}`: a job step must be a dbt command (`dbt ...`)."
                );
                w.end_step(position, plain_step(StepEnd::Error, format!("{message}\n")));
                w.finish(Some(message), Vec::new());
                return StepVerdict::Stop;
            }
        };
        let args = match self.prepare_deferral(args, &mut log) {
            Ok(a) => a,
            Err(message) => {
                log.push_str(&format!("{message}\n"));
                w.end_step(position, plain_step(StepEnd::Error, log));
                w.finish(Some(message), Vec::new());
                return StepVerdict::Stop;
            }
        };
        let started = SystemTime::now();
        let home = w.run_dir.join("home");
        let _ = std::fs::create_dir_all(&log_dir).and_then(|_| std::fs::create_dir_all(&home));
        let mut cmd = Command::new(self.dbt);
        cmd.args(&args[1..])
            .current_dir(self.project_dir)
            .env_clear()
            .env("HOME", &home)
            .env("DBT_PROFILES_DIR", self.profiles_dir)
            .env("DBT_LOG_PATH", &log_dir)
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("DBT_VERSION_CHECK", "false")
            .env("DBT_USE_COLORS", "false")
            .env("DBT_CLOUD_RUN_ID", w.order.run_id.to_string())
            .env("DBT_CLOUD_JOB_ID", w.order.job.id.to_string());
        // dbt copies DBT_ENV_CUSTOM_ENV_* into the artifacts' metadata.env (prefix removed),
        // which is how dbt Cloud's DBT_CLOUD_* variables reach them.
        for (name, value) in [
            ("ACCOUNT_ID", w.order.project.account_id),
            ("PROJECT_ID", w.order.project.id),
            ("ENVIRONMENT_ID", w.order.environment.id),
            ("JOB_ID", w.order.job.id),
            ("RUN_ID", w.order.run_id),
        ] {
            cmd.env(
                format!("DBT_ENV_CUSTOM_ENV_DBT_CLOUD_{name}"),
                value.to_string(),
            );
        }
        for var in ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        let result = process::run(cmd, &|| w.cancelled(), w.deadline());
        let (end, message) = match &result {
            Ok(done) => {
                log.push_str(&done.combined());
                match done.ending {
                    Ending::Exited(_) if done.succeeded() => (StepEnd::Success, None),
                    Ending::Exited(status) => (
                        StepEnd::Error,
                        Some(format!(
                            "Step {index} (`{command}`) failed: dbt exited with {}.",
                            status
                                .code()
                                .map_or("a signal".into(), |c| format!("code {c}"))
                        )),
                    ),
                    Ending::Cancelled => {
                        log.push_str("\nCancelled.\n");
                        (StepEnd::Cancelled, None)
                    }
                    Ending::TimedOut => {
                        let m = w.timeout_message();
                        log.push_str(&format!("\n{m}\n"));
                        (StepEnd::Error, Some(m))
                    }
                }
            }
            Err(e) => {
                let m = format!("{e} (the sandbox's dbt executable; see `--dbt`)");
                log.push_str(&format!("{m}\n"));
                (StepEnd::Error, Some(m))
            }
        };
        let artifacts = keep_artifacts(&self.project_dir.join("target"), &step_dir, started);
        let debug_logs = std::fs::read_to_string(log_dir.join("dbt.log"))
            .ok()
            .map(|d| self.scrub(&d));
        w.end_step(
            position,
            StepPlan {
                artifacts,
                files: Some(step_dir),
                debug_logs,
                ..plain_step(end.clone(), self.scrub(&log))
            },
        );
        match end {
            StepEnd::Success => StepVerdict::Continue,
            StepEnd::Error if tolerated => StepVerdict::Continue,
            _ => {
                w.finish(message, Vec::new());
                StepVerdict::Stop
            }
        }
    }

    /// Mask the fixture's tokens in text bound for a log.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for t in &self.w.state.fixture().tokens {
            if t.token.len() >= 4 {
                out = out.replace(&t.token, "*****");
            }
        }
        out
    }

    /// Put the deferral manifest where `--state` points, or drop deferral when there is none.
    fn prepare_deferral(&self, args: Vec<String>, log: &mut String) -> Result<Vec<String>, String> {
        let Some(state) = state_arg(&args) else {
            return Ok(args);
        };
        let rel = Path::new(&state);
        if rel.is_absolute() || rel.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(format!(
                "--state {state}: the sandbox places the deferral manifest inside the project, so the path must be relative to it."
            ));
        }
        match self.deferral_manifest() {
            Some((run_id, body)) => {
                let dir = self.project_dir.join(rel);
                std::fs::create_dir_all(&dir)
                    .and_then(|_| std::fs::write(dir.join("manifest.json"), body))
                    .map_err(|e| format!("The sandbox cannot write {}: {e}", dir.display()))?;
                self.w
                    .record(|run| run.plan.deferring_run_id = Some(run_id));
                log.push_str(&format!(
                    "Deferring to run {run_id}: its manifest.json is at {state}/manifest.json\n"
                ));
                Ok(args)
            }
            None => {
                log.push_str(
                    "No successful run to defer to yet: running without --defer/--state (as dbt Cloud does).\n",
                );
                Ok(strip_deferral(args))
            }
        }
    }

    /// `(run id, manifest.json)` of the run to defer to.
    fn deferral_manifest(&self) -> Option<(i64, String)> {
        let w = self.w;
        let job = &w.order.job;
        let now = Instant::now();
        let runs = lock(&w.state.runs);
        let latest = |keep: &dyn Fn(&super::state::Run) -> bool| {
            runs.runs.values().rev().find(|r| {
                r.id != w.order.run_id && keep(r) && r.snapshot(now).status == RunStatus::Success
            })
        };
        let run = match (
            job.deferring_job_definition_id,
            job.deferring_environment_id,
        ) {
            (Some(j), _) => latest(&|r| r.job_id == j),
            (None, Some(e)) => latest(&|r| r.environment_id == e),
            (None, None) => latest(&|r| r.job_id == job.id),
        }?;
        artifacts::latest(run, "manifest.json", now).map(|a| (run.id, a.body))
    }
}

/// The value of `--state PATH` / `--state=PATH`.
fn state_arg(args: &[String]) -> Option<String> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == "--state" {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix("--state=").map(str::to_string)
        }
    })
}

/// Without a manifest to compare against: no deferral flags, no `state:` selection terms.
pub(crate) fn strip_deferral(args: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut iter = args.into_iter().peekable();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "--defer" | "--favor-state" => {}
            "--state" | "--defer-state" => {
                iter.next();
            }
            s if s.starts_with("--state=") || s.starts_with("--defer-state=") => {}
            "--select" | "-s" | "--models" | "-m" => {
                let mut terms = Vec::new();
                while let Some(t) = iter.next_if(|t| !t.starts_with('-')) {
                    terms.extend(
                        t.split_whitespace()
                            .filter(|term| !term.contains("state:"))
                            .map(str::to_string),
                    );
                }
                if !terms.is_empty() {
                    out.push(a);
                    out.extend(terms);
                }
            }
            _ => out.push(a),
        }
    }
    out
}

/// Split a job step the way a POSIX shell would (quotes and backslashes; no expansion).
/// `None` for an unterminated quote.
pub(crate) fn split_command(command: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => cur.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        ch => cur.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    Some(args)
}

/// Copy what this step wrote to `target/` (top-level JSON artifacts, `compiled/`, `run/`)
/// into `dest`; returns the relative paths, sorted. Files older than the step are earlier
/// steps' and are not this step's artifacts.
fn keep_artifacts(target: &Path, dest: &Path, since: SystemTime) -> Vec<String> {
    let mut kept = Vec::new();
    let fresh = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since)
    };
    if let Ok(entries) = std::fs::read_dir(target) {
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let is_json = p.extension().is_some_and(|x| x == "json");
            if p.is_file() && is_json && fresh(&p) && copy(&p, &dest.join(&name)) {
                kept.push(name);
            }
        }
    }
    for sub in ["compiled", "run"] {
        let mut files = Vec::new();
        walk(&target.join(sub), &mut files);
        for f in files {
            let Ok(rel) = f.strip_prefix(target) else {
                continue;
            };
            if fresh(&f) && copy(&f, &dest.join(rel)) {
                kept.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    kept.sort();
    kept
}

fn copy(from: &Path, to: &Path) -> bool {
    to.parent()
        .is_none_or(|p| std::fs::create_dir_all(p).is_ok())
        && std::fs::copy(from, to).is_ok()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&e.path(), out),
            Ok(t) if t.is_file() => out.push(e.path()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_command(s).unwrap()
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            words(r#"dbt build --select "tag:a tag:b" --vars '{x: 1}'"#),
            vec![
                "dbt",
                "build",
                "--select",
                "tag:a tag:b",
                "--vars",
                "{x: 1}"
            ]
        );
        assert_eq!(split_command("dbt run --select 'x"), None);
    }

    #[test]
    fn strips_deferral_when_there_is_nothing_to_defer_to() {
        let out = strip_deferral(words(
            "dbt build --select state:modified+ --defer --state ./prod-manifest --fail-fast",
        ));
        assert_eq!(out, vec!["dbt", "build", "--fail-fast"]);
        let out = strip_deferral(words("dbt build -s state:modified+ tag:x --state=p"));
        assert_eq!(out, vec!["dbt", "build", "-s", "tag:x"]);
    }
}
