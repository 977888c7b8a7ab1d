//! `datachonk init`: compose the init modules — find the workspace, ask (or take flags),
//! write `datachonk.yaml` and `.gitignore`, and say how to provide the token.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;

use crate::cli::{GlobalArgs, InitArgs};
use crate::cloud::ClientOptions;
use crate::config::{EnvSource, ProcessEnv, CONFIG_FILE_NAME};
use crate::error::{CliError, CmdResult, Exit};
use crate::hook::install::InstallOutcome;
use crate::init::compose::compose;
use crate::init::gitignore::{self, GitignoreChange};
use crate::init::project::Workspace;
use crate::init::prompter::TerminalPrompter;
use crate::init::targets::TargetJob;
use crate::init::wizard::{self, HookChoice, Presets, TokenSource, Wizard, WizardError};
use crate::init::writer::{self, ExistingFile, ExistingValues, InitSettings};
use crate::init::{interrupt, job_check};
use crate::ui::Ui;

const DEFAULT_TOKEN_ENV: &str = "DBT_CLOUD_API_TOKEN";

pub fn run(global: &GlobalArgs, args: &InitArgs, ui: &Ui) -> CmdResult {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}")))?;
    let ws = Workspace::discover(&cwd);
    report_workspace(&ws, &cwd, ui);
    let root = ws.root(&cwd).to_path_buf();
    let path = global
        .config
        .clone()
        .unwrap_or_else(|| root.join(CONFIG_FILE_NAME));

    let existing = writer::read_existing(&path)?;
    let values = starting_values(existing.as_ref(), &path, ui);
    let token_var = values.token_env.clone();
    let token = ProcessEnv.get(&token_var).map(SecretString::from);
    let decided = decide(global, args, ui, &values, &token_var, token)?;

    // Write: a new file, or a minimal edit of the existing one. Ctrl-C waits for the rename.
    let composed = compose(
        &path,
        existing.as_ref(),
        &decided.settings,
        &token_var,
        decided.target.as_ref(),
    )
    .map_err(|e| CliError::usage(e.message).with_hint(e.hint))?;
    if !composed.changed.is_empty() {
        write(&path, &composed.text)?;
    }
    let gitignore = interrupt::while_writing(|| gitignore::ensure_ignored(&root))
        .map_err(|e| CliError::usage(e.to_string()))?;

    // Installed with the same code as `datachonk hook install`; a problem (e.g. someone
    // else's hook is there) leaves the written configuration in place.
    let hook = decided.hook.hook_kind().map(|kind| {
        crate::hook::install::install_here(kind, crate::hook::install::Existing::Refuse, None)
            .map_err(CliError::from)
    });

    report_result(&Report {
        ui,
        path: &path,
        existed: existing.is_some(),
        changed: composed.changed.iter().map(String::as_str).collect(),
        gitignore,
        hook,
        d: &decided,
        token_var: &token_var,
    });
    Ok(Exit::Success)
}

/// The values the questions start from: the existing file's, with the token variable's
/// default name.
fn starting_values(existing: Option<&ExistingFile>, path: &Path, ui: &Ui) -> ExistingValues {
    let mut values = existing.map(|e| e.values.clone()).unwrap_or_default();
    if values.token_env.is_empty() {
        values.token_env = DEFAULT_TOKEN_ENV.to_string();
    }
    if existing.is_some() {
        ui.status(format!(
            "Found {}: its values are the defaults; only what you change is rewritten.",
            path.display()
        ));
    }
    values
}

/// The settings from the wizard (on a terminal) or the flags and the existing file.
fn decide(
    global: &GlobalArgs,
    args: &InitArgs,
    ui: &Ui,
    values: &ExistingValues,
    token_var: &str,
    token: Option<SecretString>,
) -> Result<Decided, CliError> {
    let presets = presets(args)?;
    let interactive = global.can_prompt();
    if args.target.is_some() && interactive {
        return Err(CliError::usage(
            "init --target NAME runs without prompts: add --no-input and --job-id (the wizard writes the validation job)",
        ));
    }
    if interactive {
        return interactive_wizard(global, ui, presets, values.clone(), token_var, token);
    }
    let Some(name) = &args.target else {
        return without_prompts(global, ui, &presets, values, token_var, token, true);
    };
    let Some(job_id) = presets.job_id else {
        return Err(CliError::usage(format!(
            "--target {name}: missing --job-id (the target's job)"
        )));
    };
    // The target's job is checked in the project, in whatever environment it runs.
    let mut d = without_prompts(global, ui, &presets, values, token_var, token, false)?;
    let environment_id = d
        .job_environment_id
        .filter(|e| *e != d.settings.environment_id);
    d.target = Some(TargetJob {
        name: name.clone(),
        job_id,
        environment_id,
    });
    // The block keeps its own job (the validation job), if it has one.
    if let Some(j) = &values.job_id {
        d.settings.job_id = j.value;
    }
    Ok(d)
}

/// What the wizard or the flags decided, and what the API said about it.
struct Decided {
    settings: InitSettings,
    hook: HookChoice,
    account_name: Option<String>,
    job_name: Option<String>,
    job_advice: Vec<job_check::JobAdvice>,
    /// What was checked against the API; empty when nothing was.
    checked: Vec<String>,
    /// The job's own environment, when the API said.
    job_environment_id: Option<i64>,
    /// `--target NAME`: the job goes to this target.
    target: Option<TargetJob>,
}

fn presets(args: &InitArgs) -> Result<Presets, CliError> {
    let protected_branches = args
        .protected_branches
        .as_deref()
        .map(wizard::parse_branches)
        .transpose()
        .map_err(|e| CliError::usage(format!("--protected-branches: {e}")))?;
    Ok(Presets {
        access_url: args.access_url.clone(),
        account_id: args.account_id,
        project_id: args.project_id,
        environment_id: args.environment_id,
        job_id: args.job_id,
        auto_trigger: args.auto_trigger,
        wait: args.wait,
        protected_branches,
        install_hook: args.install_hook.map(HookChoice::from),
    })
}

/// A person is waiting: give up on an unreachable URL after a few seconds, not minutes.
fn client_options(ui: &Ui) -> Result<ClientOptions, CliError> {
    let mut o = ClientOptions::from_env().map_err(|e| CliError::usage(e.to_string()))?;
    o.connect_timeout = Duration::from_secs(5);
    o.request_timeout = Duration::from_secs(20);
    o.retry.max_attempts = 3;
    o.retry.budget = Duration::from_secs(10);
    if let Some(log) = ui.debug_log() {
        o.debug = Some(log);
    }
    Ok(o)
}

fn interactive_wizard(
    global: &GlobalArgs,
    ui: &Ui,
    presets: Presets,
    existing: ExistingValues,
    token_var: &str,
    token: Option<SecretString>,
) -> Result<Decided, CliError> {
    interrupt::install();
    let mut prompter = TerminalPrompter::new(global.prompt_color());
    let outcome = Wizard {
        prompter: &mut prompter,
        ui,
        presets,
        existing,
        token: TokenSource {
            var: token_var.to_string(),
            value: token,
        },
        client_options: client_options(ui)?,
    }
    .run()
    .map_err(wizard_error)?;
    let target = outcome.production_job.map(|(job_id, env)| TargetJob {
        name: "prod".into(),
        job_id,
        environment_id: env.filter(|e| *e != outcome.settings.environment_id),
    });
    Ok(Decided {
        settings: outcome.settings,
        hook: outcome.hook,
        account_name: Some(outcome.account_name),
        job_name: Some(outcome.job_name),
        job_advice: outcome.job_advice,
        checked: outcome.checked,
        job_environment_id: None,
        target,
    })
}

fn without_prompts(
    global: &GlobalArgs,
    ui: &Ui,
    presets: &Presets,
    existing: &ExistingValues,
    token_var: &str,
    token: Option<SecretString>,
    job_in_environment: bool,
) -> Result<Decided, CliError> {
    let settings = wizard::settings_without_prompts(presets, existing).map_err(|missing| {
        let why = if global.no_input {
            "--no-input"
        } else {
            "no terminal to ask on (stdin is not a terminal)"
        };
        CliError::usage(format!("{why}: missing {}", missing.join(", ")))
            .with_hint(format!(
                "pass them, e.g. datachonk init --no-input --access-url URL {}",
                missing
                    .iter()
                    .map(|f| format!("{f} ID"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
            .with_hint("or run `datachonk init` in a terminal to pick them from dbt Cloud")
    })?;
    let hook = presets.install_hook.unwrap_or(HookChoice::None);
    let Some(token) = token else {
        ui.warn(format!(
            "not checked against dbt Cloud: ${token_var} is not set (the ids are written as given)"
        ));
        return Ok(Decided {
            settings,
            hook,
            account_name: None,
            job_name: None,
            job_advice: Vec::new(),
            checked: Vec::new(),
            job_environment_id: None,
            target: None,
        });
    };
    ui.status(format!(
        "Checking the ids at {} with the token from ${token_var} …",
        settings.access_url
    ));
    let v = wizard::verify(
        ui,
        &settings,
        &token,
        &format!("env {token_var}"),
        client_options(ui)?,
        job_in_environment,
    )
    .map_err(wizard_error)?;
    Ok(Decided {
        settings,
        hook,
        account_name: Some(v.account_name),
        job_name: Some(v.job_name),
        job_advice: v.job_advice,
        checked: v.checked,
        job_environment_id: v.job_environment_id,
        target: None,
    })
}

fn wizard_error(e: WizardError) -> CliError {
    match e {
        WizardError::Interrupted => {
            CliError::new(Exit::Interrupted, "interrupted: nothing was written")
        }
        WizardError::Api(api) => api.into(),
        WizardError::Prompt(m) => CliError::usage(m),
        WizardError::Invalid(m) => CliError::usage(m),
    }
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    interrupt::while_writing(|| crate::generate::write::write_atomic(path, text.as_bytes()))
        .map_err(|e| CliError::usage(e.to_string()))
}

fn report_workspace(ws: &Workspace, cwd: &Path, ui: &Ui) {
    match &ws.repo_root {
        Some(root) => ui.status(format!("Git repository: {}", root.display())),
        None => ui.warn(format!(
            "not inside a git repository; datachonk.yaml goes to {}",
            cwd.display()
        )),
    }
    let root = ws.root(cwd);
    let show = |p: &Path| match p.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => "./dbt_project.yml".to_string(),
        Ok(rel) => format!("{}/dbt_project.yml", rel.display()),
        Err(_) => p.join("dbt_project.yml").display().to_string(),
    };
    match ws.dbt_projects.as_slice() {
        [] => ui.warn("no dbt_project.yml found here or below; datachonk expects a dbt project"),
        [one] => ui.status(format!("dbt project: {}", show(one))),
        many => ui.status(format!(
            "dbt projects: {}",
            many.iter().map(|p| show(p)).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// What `init` did, for the report.
struct Report<'a> {
    ui: &'a Ui,
    path: &'a Path,
    existed: bool,
    changed: Vec<&'a str>,
    gitignore: GitignoreChange,
    hook: Option<Result<(PathBuf, InstallOutcome), CliError>>,
    d: &'a Decided,
    token_var: &'a str,
}

fn report_result(r: &Report) {
    if r.ui.is_json() {
        r.ui.json(&result_json(r));
    } else {
        report_human(r);
    }
}

fn result_json(r: &Report) -> serde_json::Value {
    let Report {
        path,
        existed,
        changed,
        gitignore,
        hook,
        d,
        token_var,
        ..
    } = r;
    json!({
        "file": path.display().to_string(),
        "written": !changed.is_empty(),
        "created": !*existed,
        "changed": changed,
        "deploy": { "dbt_cloud": {
            "access_url": d.settings.access_url,
            "account_id": d.settings.account_id,
            "project_id": d.settings.project_id,
            "environment_id": d.settings.environment_id,
            "job_id": d.settings.job_id,
            "auto_trigger": d.settings.auto_trigger,
            "wait": d.settings.wait,
        }},
        "target": d.target.as_ref().map(|t| json!({
            "name": t.name, "job_id": t.job_id, "environment_id": t.environment_id,
        })),
        "git": { "protected_branches": d.settings.protected_branches },
        "account_name": d.account_name,
        "job_name": d.job_name,
        "job_warnings": d.job_advice.iter().map(|a| a.message()).collect::<Vec<_>>(),
        "checked": d.checked,
        "gitignore": match gitignore {
            GitignoreChange::Created => "created",
            GitignoreChange::Appended => "appended",
            GitignoreChange::AlreadyIgnored => "unchanged",
        },
        "install_hook": d.hook.kind(),
        "hook_command": d.hook.install_command(),
        "hook_installed": match &hook {
            Some(Ok((p, _))) => json!(p.display().to_string()),
            _ => serde_json::Value::Null,
        },
        "hook_error": match &hook {
            Some(Err(e)) => json!(e.message),
            _ => serde_json::Value::Null,
        },
        "token_env": token_var,
    })
}

/// The human report: what was checked and written, then what to do next.
fn report_human(r: &Report) {
    let Report {
        ui,
        path,
        existed,
        changed,
        gitignore,
        hook,
        d,
        token_var,
    } = r;
    if !d.checked.is_empty() {
        ui.out(format!(
            "Checked against dbt Cloud: {}.",
            d.checked.join("; ")
        ));
    }
    match (*existed, changed.is_empty()) {
        (true, true) => ui.out(format!(
            "{} already says this; nothing was written.",
            path.display()
        )),
        (true, false) => ui.out(format!(
            "Updated {} ({}).",
            path.display(),
            changed.join(", ")
        )),
        (false, _) => ui.out(format!("Wrote {}.", path.display())),
    }
    match gitignore {
        GitignoreChange::Created => ui.out("Created .gitignore with .datachonk/."),
        GitignoreChange::Appended => ui.out("Added .datachonk/ to .gitignore."),
        GitignoreChange::AlreadyIgnored => {}
    }
    if let Some(Ok((p, _))) = &hook {
        ui.out(format!(
            "Installed the {} git hook: {}.",
            d.hook.kind().unwrap_or_default(),
            p.display()
        ));
    }
    ui.out("");
    ui.out("Next:");
    ui.out(format!(
        "  - Provide the API token (it is never stored in a file): add\n      export {token_var}=<your token>\n    to your shell profile (~/.bashrc, ~/.zshrc) or load it from a secret manager; in CI,\n    store it as a secret named {token_var} exposed as that environment variable."
    ));
    if let (Some(Err(e)), Some(cmd)) = (&hook, d.hook.install_command()) {
        ui.warn(format!("the git hook was not installed: {}", e.message));
        for hint in &e.hints {
            ui.warn(hint);
        }
        ui.out(format!(
            "  - Install the git hook you chose: {cmd} [--chain|--force]"
        ));
    }
    ui.out("  - Check the setup: datachonk config show && datachonk cloud status");
}
