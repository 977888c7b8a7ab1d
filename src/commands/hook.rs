//! `datachonk hook`: install, remove and describe the git hooks, and run them. The git and
//! file work is in `hook/`; the dbt Cloud part reuses `dbt-run --wait` (`dbt_run::RunPlan`).

use std::path::PathBuf;

use serde_json::json;

use crate::cli::{GlobalArgs, HookCommand, HookInstallArgs, HookKindArg, HookRunArgs};
use crate::cloud::{Client, RunQuery, RunStatus};
use crate::config::{self, FlagValues, Source, Sourced};
use crate::error::{CliError, CmdResult, Exit};
use crate::generate::reconcile::state::State;
use crate::git::repo::short_sha;
use crate::hook::install::{self, Existing, InstallOutcome, Installed, UninstallOutcome};
use crate::hook::merge::{self, MergeHead};
use crate::hook::{self, prepush, HookKind};
use crate::ui::Ui;

use super::connect;
use super::deploying;
use super::reporters::documents::run_json;
use super::reporters::outputs::VerdictOutputs;
use crate::deploy::{self, RunPlan};

/// How many of the job's latest successful runs are searched for the sha (one API page).
const RECENT_RUNS: usize = 100;

pub fn run(global: &GlobalArgs, cmd: HookCommand, ui: &Ui) -> CmdResult {
    match cmd {
        HookCommand::Install(args) => run_install(global, &args, ui),
        HookCommand::Uninstall(args) => run_uninstall(&args, ui),
        HookCommand::Status => run_status(ui),
        HookCommand::Run(args) => run_hook(global, &args, ui),
    }
}

fn hooks_dir() -> Result<PathBuf, CliError> {
    Ok(install::hooks_dir_here()?)
}

fn run_install(global: &GlobalArgs, args: &HookInstallArgs, ui: &Ui) -> CmdResult {
    let existing = if args.chain {
        Existing::Chain
    } else if args.force {
        Existing::Force
    } else {
        Existing::Refuse
    };
    if let Some(t) = &args.target {
        // An unknown name is refused now, not at the first merge.
        connect::load(
            global,
            &FlagValues {
                target: Some(t.clone()),
                ..FlagValues::default()
            },
        )?;
    }
    install_kind(args.kind, existing, args.target.as_deref(), ui)?;
    Ok(Exit::Success)
}

/// Install one hook kind in the current repository and say what was done.
fn install_kind(
    kind: HookKind,
    existing: Existing,
    target: Option<&str>,
    ui: &Ui,
) -> Result<(), CliError> {
    let (path, outcome) = install::install_here(kind, existing, target)?;
    let name = kind.name();
    let line = match &outcome {
        InstallOutcome::Installed => format!("Installed the {name} hook: {}", path.display()),
        InstallOutcome::Unchanged => {
            format!("The {name} hook is already installed: {}", path.display())
        }
        InstallOutcome::Updated => format!("Updated the {name} hook: {}", path.display()),
        InstallOutcome::Chained(kept) => format!(
            "Installed the {name} hook: {} (the previous hook, now {}, runs first)",
            path.display(),
            kept.display()
        ),
        InstallOutcome::Replaced(backup) => format!(
            "Replaced the {name} hook: {} (the previous one is kept as {})",
            path.display(),
            backup.display()
        ),
    };
    if ui.is_json() {
        ui.json(&json!({
            "kind": name,
            "path": path,
            "outcome": match outcome {
                InstallOutcome::Installed => "installed",
                InstallOutcome::Unchanged => "unchanged",
                InstallOutcome::Updated => "updated",
                InstallOutcome::Chained(_) => "chained",
                InstallOutcome::Replaced(_) => "replaced",
            },
        }));
    } else {
        ui.out(line);
    }
    Ok(())
}

fn run_uninstall(args: &HookKindArg, ui: &Ui) -> CmdResult {
    let dir = hooks_dir()?;
    let kinds: Vec<HookKind> = match args.kind {
        Some(k) => vec![k],
        None => HookKind::ALL.to_vec(),
    };
    let mut results = Vec::new();
    for kind in kinds {
        let name = kind.name();
        let outcome = install::uninstall(&dir, kind)?;
        let (word, line) = match &outcome {
            UninstallOutcome::Removed => ("removed", format!("Removed the {name} hook")),
            UninstallOutcome::Restored(p) => (
                "restored",
                format!(
                    "Removed the {name} hook; the previous hook is back at {}",
                    p.display()
                ),
            ),
            UninstallOutcome::NotInstalled => ("none", format!("No {name} hook was installed")),
            UninstallOutcome::LeftForeign(p) => (
                "foreign",
                format!("{} was not installed by datachonk: left alone", p.display()),
            ),
        };
        if args.kind.is_some() || !matches!(outcome, UninstallOutcome::NotInstalled) {
            ui.out(line);
        }
        results.push(json!({ "kind": name, "outcome": word }));
    }
    if ui.is_json() {
        ui.json(&json!({ "hooks_dir": dir, "hooks": results }));
    }
    Ok(Exit::Success)
}

fn run_status(ui: &Ui) -> CmdResult {
    let dir = hooks_dir()?;
    let mut all = Vec::new();
    for kind in HookKind::ALL {
        all.push(install::status(&dir, kind)?);
    }
    if ui.is_json() {
        ui.json(&json!({ "hooks_dir": dir, "hooks": all }));
        return Ok(Exit::Success);
    }
    ui.out(format!("hooks directory: {}", dir.display()));
    for s in &all {
        let what = match s.installed {
            Installed::Ours => match &s.chained {
                Some(c) => format!("datachonk's (runs {} first)", c.display()),
                None => "datachonk's".to_string(),
            },
            Installed::Foreign => "another tool's or your own (not datachonk's)".into(),
            Installed::None => "not installed".into(),
        };
        ui.out(format!(
            "{:<17} {:<8} {}  {what}",
            s.kind,
            s.installed.label(),
            s.path.display()
        ));
    }
    Ok(Exit::Success)
}

fn run_hook(global: &GlobalArgs, args: &HookRunArgs, ui: &Ui) -> CmdResult {
    let name = args.kind.name();
    if hook::skip_requested() {
        eprintln_notice(
            ui,
            &format!("datachonk {name}: skipped ({}=1)", hook::SKIP_VAR),
        );
        return Ok(Exit::Success);
    }
    let flags = FlagValues {
        target: args.target.clone(),
        retries: args.retries,
        ..FlagValues::default()
    };
    match args.kind {
        HookKind::PreMergeCommit => {
            pre_merge_commit(global, &flags, args.yes, args.junit.as_deref(), ui)
        }
        HookKind::PrePush => pre_push(global, &flags, ui),
    }
}

/// A notice that shows even with --quiet (a skipped check should never go unnoticed).
fn eprintln_notice(ui: &Ui, line: &str) {
    if ui.is_quiet() {
        eprintln!("{}", crate::terminal_text::escape(line));
    } else {
        ui.status(line);
    }
}

fn pre_merge_commit(
    global: &GlobalArgs,
    flags: &FlagValues,
    yes: bool,
    junit: Option<&std::path::Path>,
    ui: &Ui,
) -> CmdResult {
    let repo = hook::open_repository()?;
    let heads = merge::merge_heads(&repo, std::env::vars())?;
    if heads.is_empty() {
        ui.status(
            "datachonk pre-merge-commit: no merge in progress (no MERGE_HEAD): nothing to validate",
        );
        return Ok(Exit::Success);
    }
    // Configuration problems (exit 2) before anything else.
    let cfg = connect::load(global, flags)?;
    let job_id = cfg.dbt_cloud.require_job_id()?;
    connect::confirm_job(global, &cfg, Some(job_id), yes, "the trigger")?;
    let mut targets = Vec::new();
    for head in &heads {
        let found = merge::on_remote(&repo, head)?;
        targets.push((head.clone(), merge::branch_name(&repo, head, &found)));
    }
    let client = connect::client(&cfg, ui)?;
    let rt = crate::commands::edge::runtime()?;
    let mut result = Ok(Exit::Success);
    for (head, branch) in &targets {
        let merged = Merged {
            head,
            branch: branch.as_deref(),
        };
        result = rt.block_on(validate(&client, &cfg, job_id, merged, junit, ui));
        if !matches!(result, Ok(Exit::Success)) {
            break;
        }
    }
    rt.shutdown_background();
    if !matches!(result, Ok(Exit::Success)) {
        ui.status("datachonk pre-merge-commit: the merge was not committed. `git merge --abort` returns to where you were; DATACHONK_SKIP_HOOK=1 (or --no-verify) merges without this check.");
    }
    result
}

/// A commit a merge brings in, and the branch it is on.
struct Merged<'a> {
    head: &'a MergeHead,
    branch: Option<&'a str>,
}

/// Pass at once when the job already succeeded for this exact sha; else trigger and wait
/// (the verdict also as JUnit XML to `junit`, when given).
async fn validate(
    client: &Client,
    cfg: &config::Config,
    job_id: i64,
    merged: Merged<'_>,
    junit: Option<&std::path::Path>,
    ui: &Ui,
) -> CmdResult {
    let Merged { head, branch } = merged;
    let short = short_sha(&head.sha);
    let query = RunQuery {
        job_id: Some(job_id),
        status_in: vec![RunStatus::Success],
        order_by: Some("-id".into()),
        limit: RECENT_RUNS,
        ..RunQuery::default()
    };
    let runs = client.list_runs(&query).await?;
    let validated = runs.iter().find(|r| {
        r.run_status() == RunStatus::Success
            && r.git_sha
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&head.sha))
    });
    if let Some(run) = validated {
        let url = run
            .href
            .clone()
            .unwrap_or_else(|| format!("{}/ (run {})", client.base_url(), run.id));
        if ui.is_json() {
            ui.json(&run_json("already-validated", run, None, false));
        } else {
            ui.out(format!(
                "{} {short} already validated by run {} of job {job_id}: {url}",
                ui.good("OK"),
                run.id
            ));
        }
        return Ok(Exit::Success);
    }
    let mut d = cfg.dbt_cloud.clone();
    if d.cause.is_none() {
        let cause = match branch {
            Some(b) => format!("datachonk pre-merge-commit: {b} {short}"),
            None => format!("datachonk pre-merge-commit: {short}"),
        };
        let cause: String = cause.chars().take(config::MAX_CAUSE_LEN).collect();
        d.cause = Some(Sourced::new(cause, Source::Default));
    }
    let request = deploy::request_for(&d, Some(&head.sha), branch)?;
    ui.status(format!(
        "datachonk pre-merge-commit: validating {} @ {short} with job {job_id}",
        branch.unwrap_or("the merged commit")
    ));
    let plan = RunPlan {
        job_id,
        request,
        wait: true,
        timeout: d.timeout.as_ref().map(|t| t.value),
        cancel_on_timeout: false,
        cancel_on_interrupt: false,
        retries: deploy::retries_of(&d),
        store: deploy::store_for(cfg),
    };
    let outputs = VerdictOutputs {
        junit,
        pr_comment: false,
    };
    deploying::one(client, &plan, ui, &outputs).await
}

fn pre_push(global: &GlobalArgs, flags: &FlagValues, ui: &Ui) -> CmdResult {
    let options = global.load_options();
    // Every section, as the commands that use them would load them (exit 2 when invalid).
    let settings = config::load_generate(&options)?;
    config::load_git(&options)?;
    connect::load(global, flags)?;
    let state = State::load(&settings.root).map_err(|e| CliError::usage(e.to_string()))?;
    let report = prepush::check(&settings.root, &settings.config, &state)?;
    let missing_input = match &report.method {
        prepush::Method::InputMissing { input } => Some(input.clone()),
        _ => None,
    };
    if ui.is_json() {
        let outcome = match (&missing_input, report.stale.is_empty()) {
            (Some(_), _) => "unchecked",
            (None, true) => "fresh",
            (None, false) => "stale",
        };
        ui.json(&json!({ "outcome": outcome, "report": report }));
    }
    if let prepush::Method::Checksums { why } = &report.method {
        ui.status(format!(
            "datachonk pre-push: compared with the state's checksums only: {why}"
        ));
    }
    if let Some(input) = missing_input {
        // Not a pass: without the input nobody can tell whether the files are stale.
        let mut message = format!(
            "datachonk pre-push: cannot check {} generated file(s) against their metadata: the input `datachonk generate` last read, {input}, is missing",
            report.checked
        );
        for f in report.stale.iter().take(20) {
            message.push_str(&format!("\n  {} ({})", f.path, f.reason));
        }
        let mut err = CliError::new(super::error::STALE, message).with_hint(format!(
            "recreate {input} (e.g. `dbt docs generate` for target/catalog.json), or regenerate from another input"
        ));
        if let Some(fix) = &report.fix {
            err = err.with_hint(format!("then `{fix}`, commit, and push again"));
        }
        return Err(
            err.with_hint("DATACHONK_SKIP_HOOK=1 (or `git push --no-verify`) pushes anyway")
        );
    }
    if report.stale.is_empty() {
        if !ui.is_json() {
            let what = match &report.method {
                prepush::Method::NothingGenerated => {
                    "configuration valid; datachonk has generated nothing here".to_string()
                }
                _ => format!(
                    "configuration valid; {} generated file(s) up to date",
                    report.checked
                ),
            };
            ui.status(format!("datachonk pre-push: {what}"));
        }
        return Ok(Exit::Success);
    }
    // Through the error story: git shows a pre-push hook's stdout as its own, so the verdict
    // goes to stderr like every other refusal.
    const SHOWN: usize = 20;
    let mut message = format!(
        "datachonk pre-push: {} generated file(s) are stale:",
        report.stale.len()
    );
    for f in report.stale.iter().take(SHOWN) {
        message.push_str(&format!("\n  {} ({})", f.path, f.reason));
    }
    if report.stale.len() > SHOWN {
        message.push_str(&format!("\n  … and {} more", report.stale.len() - SHOWN));
    }
    let mut err = CliError::new(super::error::STALE, message);
    if let Some(fix) = &report.fix {
        err = err.with_hint(format!("update them with `{fix}`, commit, and push again"));
    }
    Err(err.with_hint("DATACHONK_SKIP_HOOK=1 (or `git push --no-verify`) pushes anyway"))
}
