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
use crate::generate::reconcile::state::State;
use crate::git::commit;
use crate::git::push::{self as git_push, PushTarget};
use crate::git::repo::{self, short_sha, CurrentBranch};
use crate::git::stage::{self, StagePlan};
use crate::git::GitError;
use crate::ident::Dialect;
use crate::templates::Templates;
use crate::ui::Ui;

use super::connect;
use super::deploying::{self, block_on};
use super::reporters::outputs::VerdictOutputs;
use crate::deploy::{self, ManyOptions, RunPlan, Unit};

pub fn run(global: &GlobalArgs, args: &PushArgs, ui: &Ui) -> CmdResult {
    let options = global.load_options();
    let settings = config::load_generate(&options)?;
    let git_config = config::load_git(&options)?;
    // Configuration problems (exit 2) surface before anything is committed or pushed.
    let trigger = Trigger::from_args(global, args, ui)?;

    // Where we are.
    let repository = repo::open(&settings.root)?;
    repo::check_clean_state(&repository)?;
    let (current, target) = locate(&repository, args, &git_config)?;

    // What to commit.
    let head_tree = head_tree(&repository, current.head)?;
    let timer = Phases::start(ui);
    let plan = plan_commit(&repository, &settings.root, head_tree.as_ref(), &timer)?;
    let message = commit_message(args, &settings, &plan)?;

    let planned = Planned {
        current: &current,
        target: &target,
        plan: &plan,
        message: message.as_deref(),
    };
    if args.dry_run {
        let head_subject = current.head.map(|h| commit_subject(&repository, h));
        return dry_run(ui, &planned, head_subject.as_deref(), trigger.as_ref());
    }

    let committed = match &message {
        Some(message) => {
            let at = (&current, head_tree.as_ref());
            Some(commit(&repository, at, &plan, message, &timer)?)
        }
        None => None,
    };
    let Some(head) = committed.or(current.head) else {
        ui.out("Nothing to commit and nothing to push: the branch has no commits yet.");
        if ui.is_json() {
            ui.json(&json!({ "push": { "outcome": "nothing", "branch": current.name, "commit": null, "pushed": false } }));
        }
        return Ok(Exit::Success);
    };
    let updated = push(
        &repository,
        &git_config,
        (&current, &target),
        head,
        committed,
        &timer,
    )?;
    let sha = head.to_string();
    let subject = commit_subject(&repository, head);
    let summary = summary_line(&target, &sha, updated, committed.is_some());
    if target.set_upstream {
        ui.status(format!(
            "{} now tracks {}/{}",
            current.name, target.remote, target.branch
        ));
    }
    let report = report(&planned, committed, &sha, &subject, updated);
    match trigger {
        None => {
            if ui.is_json() {
                ui.json(&json!({ "push": report }));
            } else {
                ui.out(summary);
            }
            Ok(Exit::Success)
        }
        Some(trigger) => {
            ui.status(summary);
            trigger_after_push(&trigger, report, (&sha, &target.branch, &subject), ui)
        }
    }
}

/// The branch we are on and where it goes, refusing protected branches unless allowed.
fn locate(
    repository: &Repository,
    args: &PushArgs,
    git_config: &config::GitConfig,
) -> Result<(CurrentBranch, PushTarget), CliError> {
    let current = repo::current_branch(repository)?;
    let target = git_push::resolve_target(
        repository,
        &current,
        args.remote.as_deref(),
        args.branch.as_deref(),
    )?;
    if !args.allow_protected {
        repo::check_not_protected(&current.name, &git_config.protected_branches)?;
        repo::check_not_protected(&target.branch, &git_config.protected_branches)?;
    }
    Ok((current, target))
}

/// HEAD's tree (none on a branch without commits yet).
fn head_tree(
    repository: &Repository,
    head: Option<Oid>,
) -> Result<Option<git2::Tree<'_>>, CliError> {
    let Some(id) = head else {
        return Ok(None);
    };
    let commit = repository
        .find_commit(id)
        .map_err(GitError::git("cannot read HEAD's commit"))?;
    Ok(Some(
        commit
            .tree()
            .map_err(GitError::git("cannot read HEAD's tree"))?,
    ))
}

/// Timings of the push's phases, for `-v`.
struct Phases<'a> {
    ui: &'a Ui,
    started: std::time::Instant,
}

impl<'a> Phases<'a> {
    fn start(ui: &'a Ui) -> Self {
        Phases {
            ui,
            started: std::time::Instant::now(),
        }
    }

    fn done(&self, name: &str) {
        self.ui.debug(format!(
            "{name}: {:.3}s",
            self.started.elapsed().as_secs_f64()
        ));
    }
}

/// The files to commit: generated files that changed (the rest is left out, with a warning).
fn plan_commit(
    repository: &Repository,
    root: &Path,
    head_tree: Option<&git2::Tree<'_>>,
    timer: &Phases<'_>,
) -> Result<StagePlan, CliError> {
    let state = State::load(root).map_err(|e| CliError::usage(e.to_string()))?;
    let prefix = project_prefix(repository, root)?;
    let workdir = repo::workdir(repository)?;
    let plan = stage::plan(repository, &workdir, &prefix, &state, head_tree)?;
    timer.done("planned the commit");
    for left in &plan.left_out {
        timer
            .ui
            .warn(format!("left out {}: {}", left.path, left.reason.label()));
    }
    Ok(plan)
}

/// The commit message: `--message`, else rendered from the commit template (none when
/// there is nothing to commit).
fn commit_message(
    args: &PushArgs,
    settings: &config::GenerateSettings,
    plan: &StagePlan,
) -> Result<Option<String>, CliError> {
    if plan.is_empty() {
        return Ok(None);
    }
    Ok(Some(match &args.message {
        Some(m) if !m.trim().is_empty() => commit::tidy(m),
        Some(_) => return Err(CliError::usage("--message must not be empty")),
        None => {
            let dialect = Dialect::parse(&settings.config.dialect).unwrap_or(Dialect::Postgres);
            let templates = Templates::new(settings.config.templates_dir.as_deref(), dialect)
                .map_err(crate::generate::GenerateError::from)?;
            commit::render_message(&templates, &settings.config, plan)
                .map_err(crate::generate::GenerateError::from)?
        }
    }))
}

/// Commit the planned files on the current branch (and update the index to match).
fn commit(
    repository: &Repository,
    (current, head_tree): (&CurrentBranch, Option<&git2::Tree<'_>>),
    plan: &StagePlan,
    message: &str,
    timer: &Phases<'_>,
) -> Result<Oid, CliError> {
    let ui = timer.ui;
    let (author, committer) = commit::identity(repository)?;
    if commit::wants_signing(repository) {
        ui.warn("commit.gpgsign is set, but datachonk does not sign commits: this commit will be unsigned");
    }
    let id = commit::create(
        repository,
        &current.refname,
        plan,
        head_tree,
        current.head,
        message,
        (&author, &committer),
    )?;
    timer.done("committed");
    if let Err(e) = stage::update_index(repository, &plan.files) {
        ui.warn(format!(
            "committed, but the index was not updated ({e}); `git status` may show the files as changed until `git reset -q`"
        ));
    }
    timer.done("updated the index");
    ui.status(format!(
        "Committed {} on {}: {} ({} file{})",
        short_sha(&id.to_string()),
        current.name,
        commit::subject(message),
        plan.files.len(),
        plural(plan.files.len())
    ));
    list_files(ui, plan, |line| ui.status(line));
    Ok(id)
}

/// Push `head` to the target; whether the remote branch moved. A failure says what was kept.
fn push(
    repository: &Repository,
    git_config: &config::GitConfig,
    (current, target): (&CurrentBranch, &PushTarget),
    head: Oid,
    committed: Option<Oid>,
    timer: &Phases<'_>,
) -> Result<bool, CliError> {
    let ui = timer.ui;
    ui.status(format!(
        "Pushing {} to {}/{} ({})",
        current.name, target.remote, target.branch, target.url
    ));
    let outcome = git_push::push(
        repository,
        target,
        &current.refname,
        head,
        git_config.push_timeout,
    )
    .map_err(|e| {
        let err = CliError::from(e);
        match committed {
            Some(id) => err.with_hint(format!(
                "the commit {} is kept on {}; nothing was triggered. Rerun `datachonk push` once fixed (it will only push)",
                short_sha(&id.to_string()),
                current.name
            )),
            None => err.with_hint("nothing was triggered; rerun `datachonk push` once fixed"),
        }
    })?;
    for (stage, at) in &outcome.stages {
        ui.debug(format!("  push {stage}: +{:.3}s", at.as_secs_f64()));
    }
    timer.done("pushed");
    Ok(outcome.updated)
}

/// What the push did, in one line.
fn summary_line(target: &PushTarget, sha: &str, updated: bool, committed: bool) -> String {
    let at = format!("{}/{}", target.remote, target.branch);
    if updated {
        format!("pushed {} to {at}", short_sha(sha))
    } else if !committed {
        format!(
            "nothing to commit and nothing to push: {at} is at {}",
            short_sha(sha)
        )
    } else {
        format!("{at} is at {}", short_sha(sha))
    }
}

/// Trigger (and maybe wait) for the pushed commit. With a trigger, stdout belongs to the
/// run's verdict (the same as dbt-run's); with --json that document carries the push's
/// details under `push`.
fn trigger_after_push(
    trigger: &Trigger,
    report: Value,
    (sha, branch, subject): (&str, &str, &str),
    ui: &Ui,
) -> CmdResult {
    let mut fields = serde_json::Map::new();
    fields.insert("push".into(), report.clone());
    let result = trigger.run(sha, branch, subject, &ui.with_json_fields(fields));
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

/// What the push is about: where from, where to, which files, and the message.
struct Planned<'a> {
    current: &'a CurrentBranch,
    target: &'a PushTarget,
    plan: &'a StagePlan,
    message: Option<&'a str>,
}

/// The trigger, checked before any git work: missing job id or token fails first (exit 2).
/// Several targets: each one's job, awaited together (`dbt_run_many`).
struct Trigger {
    jobs: Vec<(Config, i64)>,
    client: Client,
    junit: Option<std::path::PathBuf>,
    /// `--pr-comment`.
    pr_comment: bool,
    /// `--pull-request`: resolved before any git work, like the rest.
    pull_request: Option<crate::cloud::pull_request::PullRequest>,
}

impl Trigger {
    /// The jobs to trigger after the push: each target's, when asked (flag) or by its own
    /// auto_trigger; none at all is `None`.
    fn from_args(
        global: &GlobalArgs,
        args: &PushArgs,
        ui: &Ui,
    ) -> Result<Option<Trigger>, CliError> {
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
        let to_trigger: Vec<Config> = cfgs
            .into_iter()
            .filter(|cfg| args.trigger_dbt_run || cfg.dbt_cloud.auto_trigger.value)
            .collect();
        for cfg in &to_trigger {
            connect::confirm_target(global, cfg, args.yes, "push and trigger")?;
        }
        if to_trigger.is_empty() {
            return Ok(None);
        }
        let mut trigger = Trigger::prepare(to_trigger, args.junit.clone(), ui)?;
        trigger.pull_request = deploy::pull_request_from(args.pull_request.as_deref())?;
        trigger.pr_comment = args.pr_comment;
        Ok(Some(trigger))
    }

    fn prepare(
        cfgs: Vec<Config>,
        junit: Option<std::path::PathBuf>,
        ui: &Ui,
    ) -> Result<Trigger, CliError> {
        let mut jobs = Vec::new();
        for cfg in cfgs {
            let job_id = cfg.dbt_cloud.require_job_id()?;
            jobs.push((cfg, job_id));
        }
        let client = connect::client(&jobs[0].0, ui)?;
        Ok(Trigger {
            jobs,
            client,
            junit,
            pr_comment: false,
            pull_request: None,
        })
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
        &self,
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
        let mut request = deploy::request_for(&d, Some(sha), Some(branch))?;
        if let Some(pr) = &self.pull_request {
            deploy::for_pull_request(&mut request, pr)?;
        }
        Ok(RunPlan {
            job_id,
            request,
            wait: d.wait.value,
            timeout: d.timeout.as_ref().map(|t| t.value),
            cancel_on_timeout: false,
            // A cancelled CI pipeline cancels the run it pushed for.
            cancel_on_interrupt: deploy::ci_cancels_on_stop(),
            retries: deploy::retries_of(&d),
            store: deploy::store_for(cfg),
        })
    }

    fn outputs(&self) -> VerdictOutputs<'_> {
        VerdictOutputs {
            junit: self.junit.as_deref(),
            pr_comment: self.pr_comment,
        }
    }

    fn run(&self, sha: &str, branch: &str, subject: &str, ui: &Ui) -> CmdResult {
        if let [(cfg, job_id)] = self.jobs.as_slice() {
            let plan = self.plan(cfg, *job_id, sha, branch, subject)?;
            block_on(deploying::one(&self.client, &plan, ui, &self.outputs()))
        } else {
            let mut units = Vec::new();
            for (cfg, job_id) in &self.jobs {
                let plan = self.plan(cfg, *job_id, sha, branch, subject)?;
                units.push(Unit::of(cfg, plan));
            }
            let options = ManyOptions {
                wait: units.iter().any(|u| u.plan.wait),
                sequential: false,
            };
            block_on(deploying::many(
                &self.client,
                &units,
                options,
                ui,
                &self.outputs(),
            ))
        }
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
    p: &Planned<'_>,
    committed: Option<Oid>,
    sha: &str,
    subject: &str,
    updated: bool,
) -> Value {
    let (current, target, plan) = (p.current, p.target, p.plan);
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

/// `--dry-run`: what would be committed, pushed and triggered.
fn dry_run(
    ui: &Ui,
    p: &Planned<'_>,
    head_subject: Option<&str>,
    trigger: Option<&Trigger>,
) -> CmdResult {
    let trigger_json = trigger.map(|t| dry_trigger_json(p, head_subject, t));
    if ui.is_json() {
        let (current, target, plan) = (p.current, p.target, p.plan);
        ui.json(&json!({
            "push": {
                "outcome": "dry-run",
                "branch": current.name,
                "remote": { "name": target.remote, "url": target.url, "branch": target.branch },
                "set_upstream": target.set_upstream,
                "commit": p.message.map(|m| json!({ "message": m, "subject": commit::subject(m), "files": files_json(plan) })),
                "head": current.head.map(|h| h.to_string()),
                "pushed": false,
                "left_out": plan.left_out,
            },
            "trigger": trigger_json,
        }));
        return Ok(Exit::Success);
    }
    dry_run_lines(ui, p);
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

/// The jobs a dry run would trigger: one job an object, as always; several targets a list.
fn dry_trigger_json(p: &Planned<'_>, head_subject: Option<&str>, trigger: &Trigger) -> Value {
    let head = p.current.head.map(|h| h.to_string());
    let subject = p.message.map(commit::subject).unwrap_or_default();
    let branch = &p.target.branch;
    let job_json = |cfg: &Config, job_id: i64| {
        let cause = match (&cfg.dbt_cloud.cause, &head) {
            (Some(c), _) => c.value.clone(),
            (None, Some(h)) if p.message.is_none() => {
                default_cause(head_subject.unwrap_or_default(), h, branch)
            }
            _ => default_cause(subject, "<new commit>", branch),
        };
        json!({ "job_id": job_id, "git_sha": if p.message.is_some() { None } else { head.clone() }, "cause": cause, "wait": cfg.dbt_cloud.wait.value })
    };
    match trigger.jobs.as_slice() {
        [(cfg, job_id)] => job_json(cfg, *job_id),
        jobs => Value::Array(jobs.iter().map(|(c, j)| job_json(c, *j)).collect()),
    }
}

/// The commit and the push a dry run would make, for people.
fn dry_run_lines(ui: &Ui, p: &Planned<'_>) {
    let (current, target, plan) = (p.current, p.target, p.plan);
    match p.message {
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
    match (current.head, p.message) {
        (None, None) => ui.out("Nothing to push: the branch has no commits yet."),
        _ => ui.out(format!(
            "Would push {} to {}/{} ({}){upstream}",
            current.name, target.remote, target.branch, target.url
        )),
    }
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
