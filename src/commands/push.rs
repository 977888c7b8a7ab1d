//! `datachonk push`: commit exactly the generated files that changed, push the branch, then
//! (flag or `auto_trigger`) trigger the dbt Cloud job for the pushed commit and, with
//! `--wait`, wait exactly as `dbt-run --wait` does. The work is in `git/`; this composes it.

use std::path::Path;

use git2::{Oid, Repository};
use serde_json::{json, Value};

use crate::cli::{GlobalArgs, PushArgs};
use crate::cloud::Client;
use crate::config::{self, Config, FlagValues, Source, Sourced, MAX_CAUSE_LEN};
use crate::error::{CliError, CmdResult, Exit};
use crate::generate::state::State;
use crate::git::commit;
use crate::git::push::{self as git_push, PushTarget};
use crate::git::repo::{self, short_sha, CurrentBranch};
use crate::git::stage::{self, StagePlan};
use crate::git::GitError;
use crate::ident::Dialect;
use crate::templates::Templates;
use crate::ui::Ui;

use super::connect;
use super::dbt_run::{self, RunPlan};
use super::dbt_run_many::{self, ManyOptions, Unit};

pub fn run(global: &GlobalArgs, args: &PushArgs, ui: &Ui) -> CmdResult {
    let options = super::config::load_options(global);
    let settings = config::load_generate(&options)?;
    let git_config = config::load_git(&options)?;
    // Configuration problems (exit 2) surface before anything is committed or pushed.
    let flags = |target: Option<&String>| FlagValues {
        cause: args.cause.clone(),
        wait: args.wait.then_some(true),
        target: target.cloned(),
        retries: args.retries,
        ..FlagValues::default()
    };
    let cfgs = if args.target.len() > 1 {
        let mut cfgs = Vec::new();
        for t in &args.target {
            cfgs.push(connect::load(global, &flags(Some(t)))?);
        }
        cfgs
    } else {
        vec![connect::load(global, &flags(args.target.first()))?]
    };
    // Each target's job is triggered when asked (flag) or by its own auto_trigger.
    let to_trigger: Vec<Config> = cfgs
        .into_iter()
        .filter(|cfg| args.trigger_dbt_run || cfg.dbt_cloud.auto_trigger.value)
        .collect();
    for cfg in &to_trigger {
        connect::confirm_target(global, cfg, args.yes, "push and trigger")?;
    }
    let trigger = if to_trigger.is_empty() {
        None
    } else {
        Some(Trigger::prepare(to_trigger, ui)?)
    };

    // Where we are.
    let root = &settings.root;
    let repository = repo::open(root)?;
    repo::check_clean_state(&repository)?;
    let current = repo::current_branch(&repository)?;
    let target = git_push::resolve_target(
        &repository,
        &current,
        args.remote.as_deref(),
        args.branch.as_deref(),
    )?;
    if !args.allow_protected {
        repo::check_not_protected(&current.name, &git_config.protected_branches)?;
        repo::check_not_protected(&target.branch, &git_config.protected_branches)?;
    }

    // What to commit.
    let state = State::load(root).map_err(|e| CliError::usage(e.to_string()))?;
    let prefix = project_prefix(&repository, root)?;
    let head_commit = match current.head {
        Some(id) => Some(
            repository
                .find_commit(id)
                .map_err(GitError::git("cannot read HEAD's commit"))?,
        ),
        None => None,
    };
    let head_tree = match &head_commit {
        Some(c) => Some(c.tree().map_err(GitError::git("cannot read HEAD's tree"))?),
        None => None,
    };
    let workdir = repo::workdir(&repository)?;
    let started = std::time::Instant::now();
    let phase = |name: &str| ui.debug(format!("{name}: {:.3}s", started.elapsed().as_secs_f64()));
    let plan = stage::plan(&repository, &workdir, &prefix, &state, head_tree.as_ref())?;
    phase("planned the commit");
    for left in &plan.left_out {
        ui.warn(format!("left out {}: {}", left.path, left.reason.label()));
    }
    let message = if plan.is_empty() {
        None
    } else {
        Some(match &args.message {
            Some(m) if !m.trim().is_empty() => commit::tidy(m),
            Some(_) => return Err(CliError::usage("--message must not be empty")),
            None => {
                let dialect = Dialect::parse(&settings.config.dialect).unwrap_or(Dialect::Postgres);
                let templates = Templates::new(settings.config.templates_dir.as_deref(), dialect)
                    .map_err(crate::generate::GenerateError::from)?;
                commit::render_message(&templates, &settings.config, &plan)
                    .map_err(crate::generate::GenerateError::from)?
            }
        })
    };

    if args.dry_run {
        let head_subject = current.head.map(|h| commit_subject(&repository, h));
        return dry_run(
            ui,
            &current,
            &target,
            &plan,
            message.as_deref(),
            head_subject.as_deref(),
            trigger.as_ref(),
        );
    }

    // Commit.
    let mut committed = None;
    if let Some(message) = &message {
        let (author, committer) = commit::identity(&repository)?;
        if commit::wants_signing(&repository) {
            ui.warn("commit.gpgsign is set, but datachonk does not sign commits: this commit will be unsigned");
        }
        let id = commit::create(
            &repository,
            &current.refname,
            &plan,
            head_tree.as_ref(),
            current.head,
            message,
            (&author, &committer),
        )?;
        phase("committed");
        if let Err(e) = stage::update_index(&repository, &plan.files) {
            ui.warn(format!(
                "committed, but the index was not updated ({e}); `git status` may show the files as changed until `git reset -q`"
            ));
        }
        phase("updated the index");
        ui.status(format!(
            "Committed {} on {}: {} ({} file{})",
            short_sha(&id.to_string()),
            current.name,
            commit::subject(message),
            plan.files.len(),
            plural(plan.files.len())
        ));
        list_files(ui, &plan, |line| ui.status(line));
        committed = Some(id);
    }
    let Some(head) = committed.or(current.head) else {
        ui.out("Nothing to commit and nothing to push: the branch has no commits yet.");
        if ui.is_json() {
            ui.json(&json!({ "push": { "outcome": "nothing", "branch": current.name, "commit": null, "pushed": false } }));
        }
        return Ok(Exit::Success);
    };

    // Push.
    ui.status(format!(
        "Pushing {} to {}/{} ({})",
        current.name, target.remote, target.branch, target.url
    ));
    let outcome = git_push::push(
        &repository,
        &target,
        &current.refname,
        head,
        git_config.push_timeout,
    )
    .map_err(|e| {
        let mut err = CliError::from(e);
        if let Some(id) = committed {
            err = err.with_hint(format!(
                "the commit {} is kept on {}; nothing was triggered. Rerun `datachonk push` once fixed (it will only push)",
                short_sha(&id.to_string()),
                current.name
            ));
        } else {
            err = err.with_hint("nothing was triggered; rerun `datachonk push` once fixed");
        }
        err
    })?;
    for (stage, at) in &outcome.stages {
        ui.debug(format!("  push {stage}: +{:.3}s", at.as_secs_f64()));
    }
    phase("pushed");
    let sha = head.to_string();
    let subject = commit_subject(&repository, head);
    let summary = if outcome.updated {
        format!(
            "pushed {} to {}/{}",
            short_sha(&sha),
            target.remote,
            target.branch
        )
    } else if committed.is_none() {
        format!(
            "nothing to commit and nothing to push: {}/{} is at {}",
            target.remote,
            target.branch,
            short_sha(&sha)
        )
    } else {
        format!(
            "{}/{} is at {}",
            target.remote,
            target.branch,
            short_sha(&sha)
        )
    };
    if target.set_upstream {
        ui.status(format!(
            "{} now tracks {}/{}",
            current.name, target.remote, target.branch
        ));
    }

    let report = report(
        &current,
        &target,
        &plan,
        committed,
        &sha,
        &subject,
        outcome.updated,
    );
    let Some(trigger) = trigger else {
        if ui.is_json() {
            ui.json(&json!({ "push": report }));
        } else {
            ui.out(summary);
        }
        return Ok(Exit::Success);
    };
    // With a trigger, stdout belongs to the run's verdict (the same as dbt-run's); with
    // --json that document carries the push's details under `push`.
    ui.status(summary);
    let mut fields = serde_json::Map::new();
    fields.insert("push".into(), report.clone());
    let result = trigger.run(&sha, &target.branch, &subject, &ui.with_json_fields(fields));
    // The trigger failed before any verdict was printed: the push still happened, and a
    // script reading --json must learn that from stdout, not only from stderr's prose.
    if let (Err(e), true) = (&result, ui.is_json()) {
        ui.json(&json!({
            "push": report,
            "outcome": "trigger_failed",
            "error": { "exit": e.exit.code(), "message": e.message, "hints": e.hints },
        }));
    }
    result
}

/// The trigger, checked before any git work: missing job id or token fails first (exit 2).
/// Several targets: each one's job, awaited together (`dbt_run_many`).
struct Trigger {
    jobs: Vec<(Config, i64)>,
    client: Client,
}

impl Trigger {
    fn prepare(cfgs: Vec<Config>, ui: &Ui) -> Result<Trigger, CliError> {
        let mut jobs = Vec::new();
        for cfg in cfgs {
            let job_id = cfg.dbt_cloud.require_job_id()?;
            jobs.push((cfg, job_id));
        }
        let client = connect::client(&jobs[0].0, ui)?;
        Ok(Trigger { jobs, client })
    }

    /// The cause: `--cause` (or the configured one), else the commit's subject, short sha
    /// and branch.
    fn cause(cfg: &Config, sha: &str, branch: &str, subject: &str) -> Sourced<String> {
        cfg.dbt_cloud
            .cause
            .clone()
            .unwrap_or_else(|| Sourced::new(default_cause(subject, sha, branch), Source::Default))
    }

    fn plan(
        cfg: &Config,
        job_id: i64,
        sha: &str,
        branch: &str,
        subject: &str,
    ) -> Result<RunPlan, CliError> {
        let mut d = cfg.dbt_cloud.clone();
        d.cause = Some(Self::cause(cfg, sha, branch, subject));
        // dbt Cloud refuses git_sha with git_branch: the sha (what validates the pushed
        // commit) is sent and the branch is named in the cause.
        let request = dbt_run::trigger_request(&d, Some(sha), Some(branch))?;
        Ok(RunPlan {
            job_id,
            request,
            wait: d.wait.value,
            timeout: d.timeout.as_ref().map(|t| t.value),
            cancel_on_timeout: false,
            cancel_on_interrupt: false,
            retries: dbt_run::retries_of(&d),
            store: super::cloud_insight::store_for(cfg),
        })
    }

    fn run(&self, sha: &str, branch: &str, subject: &str, ui: &Ui) -> CmdResult {
        let rt = super::runtime()?;
        let result = if let [(cfg, job_id)] = self.jobs.as_slice() {
            let plan = Self::plan(cfg, *job_id, sha, branch, subject)?;
            rt.block_on(dbt_run::trigger_and_report(&self.client, &plan, ui))
        } else {
            let mut units = Vec::new();
            for (cfg, job_id) in &self.jobs {
                let plan = Self::plan(cfg, *job_id, sha, branch, subject)?;
                units.push(Unit::of(cfg, plan));
            }
            let options = ManyOptions {
                wait: units.iter().any(|u| u.plan.wait),
                sequential: false,
            };
            rt.block_on(dbt_run_many::trigger_all_and_report(
                &self.client,
                &units,
                options,
                ui,
            ))
        };
        rt.shutdown_background();
        result
    }
}

/// `datachonk push: SUBJECT (SHORT on BRANCH)`, the subject shortened to fit 255 characters.
pub fn default_cause(subject: &str, sha: &str, branch: &str) -> String {
    // The built-in subject already starts with "datachonk:"; a person's own does not.
    let head = if subject.starts_with("datachonk") {
        ""
    } else {
        "datachonk push: "
    };
    let tail = format!(" ({} on {branch})", &sha[..sha.len().min(7)]);
    let room = MAX_CAUSE_LEN.saturating_sub(head.chars().count() + tail.chars().count());
    let subject = if subject.chars().count() > room {
        subject
            .chars()
            .take(room.saturating_sub(1))
            .collect::<String>()
            + "…"
    } else {
        subject.to_string()
    };
    let cause = format!("{head}{subject}{tail}");
    if cause.chars().count() > MAX_CAUSE_LEN {
        cause.chars().take(MAX_CAUSE_LEN - 1).collect::<String>() + "…"
    } else {
        cause
    }
}

/// The project root relative to the working tree, with forward slashes ("" at the top).
fn project_prefix(repository: &Repository, root: &Path) -> Result<String, CliError> {
    let workdir = repo::workdir(repository)?;
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (workdir, root) = (canon(&workdir), canon(root));
    let rel = root
        .strip_prefix(&workdir)
        .map_err(|_| GitError::OutsideWorkdir {
            path: root.clone(),
            workdir: workdir.clone(),
        })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Ok(parts.join("/"))
}

fn commit_subject(repository: &Repository, id: Oid) -> String {
    repository
        .find_commit(id)
        .ok()
        .and_then(|c| c.summary().ok().flatten().map(str::to_string))
        .unwrap_or_default()
}

/// The committed files, at most [`LISTED`] of them unless `-v` (10,000 lines help nobody).
fn list_files(ui: &Ui, plan: &StagePlan, mut print: impl FnMut(String)) {
    let limit = if ui.is_verbose() { usize::MAX } else { LISTED };
    for f in plan.files.iter().take(limit) {
        print(format!("  {:<8} {}", f.change.label(), f.path));
    }
    if plan.files.len() > limit {
        print(format!(
            "  … and {} more (-v or --json lists them all)",
            plan.files.len() - limit
        ));
    }
}

const LISTED: usize = 20;

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn files_json(plan: &StagePlan) -> Value {
    plan.files
        .iter()
        .map(|f| json!({ "path": f.path, "status": f.change.label() }))
        .collect()
}

/// The `push` part of the `--json` document (schema in the README, "Push").
fn report(
    current: &CurrentBranch,
    target: &PushTarget,
    plan: &StagePlan,
    committed: Option<Oid>,
    sha: &str,
    subject: &str,
    updated: bool,
) -> Value {
    json!({
        "outcome": if updated { "pushed" } else { "up-to-date" },
        "branch": current.name,
        "remote": { "name": target.remote, "url": target.url, "branch": target.branch },
        "set_upstream": target.set_upstream,
        "commit": committed.map(|id| json!({ "sha": id.to_string(), "subject": subject, "files": files_json(plan) })),
        "head": sha,
        "pushed": updated,
        "left_out": plan.left_out,
    })
}

fn dry_run(
    ui: &Ui,
    current: &CurrentBranch,
    target: &PushTarget,
    plan: &StagePlan,
    message: Option<&str>,
    head_subject: Option<&str>,
    trigger: Option<&Trigger>,
) -> CmdResult {
    let head = current.head.map(|h| h.to_string());
    let subject = message.map(commit::subject).unwrap_or_default();
    let job_json = |cfg: &Config, job_id: i64| {
        let cause = match (&cfg.dbt_cloud.cause, &head) {
            (Some(c), _) => c.value.clone(),
            (None, Some(h)) if message.is_none() => {
                default_cause(head_subject.unwrap_or_default(), h, &target.branch)
            }
            _ => default_cause(subject, "<new commit>", &target.branch),
        };
        json!({ "job_id": job_id, "git_sha": if message.is_some() { None } else { head.clone() }, "cause": cause, "wait": cfg.dbt_cloud.wait.value })
    };
    // One job: an object, as always; several targets: a list of them.
    let trigger_json = trigger.map(|t| match t.jobs.as_slice() {
        [(cfg, job_id)] => job_json(cfg, *job_id),
        jobs => Value::Array(jobs.iter().map(|(c, j)| job_json(c, *j)).collect()),
    });
    if ui.is_json() {
        ui.json(&json!({
            "push": {
                "outcome": "dry-run",
                "branch": current.name,
                "remote": { "name": target.remote, "url": target.url, "branch": target.branch },
                "set_upstream": target.set_upstream,
                "commit": message.map(|m| json!({ "message": m, "subject": commit::subject(m), "files": files_json(plan) })),
                "head": head,
                "pushed": false,
                "left_out": plan.left_out,
            },
            "trigger": trigger_json,
        }));
        return Ok(Exit::Success);
    }
    match message {
        Some(m) => {
            ui.out(format!(
                "Would commit {} file{} on {}:",
                plan.files.len(),
                plural(plan.files.len()),
                current.name
            ));
            list_files(ui, plan, |line| ui.out(line));
            ui.out("with the message:");
            for line in m.lines() {
                ui.out(format!("  | {line}"));
            }
        }
        None => ui.out("Nothing to commit."),
    }
    let upstream = if target.set_upstream {
        " (and set it as upstream)"
    } else {
        ""
    };
    match (&head, message) {
        (None, None) => ui.out("Nothing to push: the branch has no commits yet."),
        _ => ui.out(format!(
            "Would push {} to {}/{} ({}){upstream}",
            current.name, target.remote, target.branch, target.url
        )),
    }
    let each: Vec<Value> = match trigger_json {
        Some(Value::Array(list)) => list,
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for t in each {
        let sha = t["git_sha"]
            .as_str()
            .map(|s| short_sha(s).to_string())
            .unwrap_or_else(|| "the new commit".into());
        let wait = if t["wait"].as_bool() == Some(true) {
            ", then wait for the verdict"
        } else {
            ""
        };
        ui.out(format!(
            "Would trigger job {} for {sha} (cause: {}){wait}",
            t["job_id"], t["cause"]
        ));
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cause_names_subject_sha_and_branch_within_255() {
        assert_eq!(
            default_cause(
                "Generate staging models for shop",
                "0123456789abcdef",
                "feature/x"
            ),
            "datachonk push: Generate staging models for shop (0123456 on feature/x)"
        );
        assert_eq!(
            default_cause(
                "datachonk: generate 1 staging model (stg_a)",
                "0123456789abcdef",
                "x"
            ),
            "datachonk: generate 1 staging model (stg_a) (0123456 on x)"
        );
        let long = "s".repeat(400);
        let c = default_cause(&long, "0123456789abcdef", "feature/x");
        assert_eq!(c.chars().count(), MAX_CAUSE_LEN);
        assert!(c.ends_with("(0123456 on feature/x)"), "{c}");
        let c = default_cause("s", "0123456789abcdef", &"b".repeat(400));
        assert_eq!(c.chars().count(), MAX_CAUSE_LEN);
    }
}
