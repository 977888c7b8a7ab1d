//! From configuration to a dbt Cloud client: the one place commands turn settings into a
//! connection (and the one place the token is taken out of the configuration).

use std::io::IsTerminal;
use std::sync::Arc;

use crate::cli::{ConnectionArgs, GlobalArgs, ServerArgs};
use crate::cloud::{Client, ClientOptions};
use crate::config::{self, Config, FlagValues, ProcessEnv, Source, Sourced};
use crate::error::{CliError, Exit};
use crate::ui::Ui;
use secrecy::{ExposeSecret, SecretString};

/// Flag values of the connection flags every cloud-facing command takes.
pub fn connection_flags(c: &ConnectionArgs) -> FlagValues {
    FlagValues {
        target: c.target.clone(),
        ..server_flags(&c.server)
    }
}

/// Flag values of the server flags (access URL, account).
pub fn server_flags(s: &ServerArgs) -> FlagValues {
    FlagValues {
        access_url: s.access_url.clone(),
        account_id: s.account_id,
        ..FlagValues::default()
    }
}

/// Load the configuration for a command.
pub fn load(global: &GlobalArgs, flags: &FlagValues) -> Result<Config, CliError> {
    Ok(config::load(&global.load_options(), flags, &ProcessEnv)?)
}

/// A client for the configured account; missing token or account id is a usage error (2).
pub fn client(cfg: &Config, ui: &Ui) -> Result<Client, CliError> {
    let d = &cfg.dbt_cloud;
    let token = d.require_token()?;
    check_token(&token.value, &token.source.to_string())?;
    let account_id = d.require_account_id()?;
    let mut options = ClientOptions::from_env().map_err(|e| CliError::usage(e.to_string()))?;
    if ui.is_verbose() {
        let ui = ui.clone();
        options.debug = Some(Arc::new(move |line: &str| ui.debug(line)));
    }
    Ok(Client::new(
        &d.access_url.value,
        account_id,
        &token.value,
        token.source.to_string(),
        options,
    )?)
}

/// A token that cannot go into an HTTP header (a newline from a pasted or `cat`-ed value,
/// other control characters) is a configuration mistake: refused before any request, and
/// never echoed. Surrounding whitespace is trimmed when it is sent, so it is allowed here.
fn check_token(token: &SecretString, source: &str) -> Result<(), CliError> {
    let bad = token.expose_secret().trim().chars().any(char::is_control);
    if bad {
        return Err(CliError::usage(format!(
            "the API token from {source} contains a line break or another control character"
        ))
        .with_hint("set it again without them, e.g. export DBT_CLOUD_API_TOKEN=\"$(tr -d '[:space:]' < token-file)\""));
    }
    Ok(())
}

/// A target marked `confirm: true` changes production: ask on a terminal; without one, go
/// ahead only with `--yes`. Refusing is exit 2 before anything is pushed or triggered.
pub fn confirm_target(
    global: &GlobalArgs,
    cfg: &Config,
    yes: bool,
    doing: &str,
) -> Result<(), CliError> {
    confirm_job(
        global,
        cfg,
        cfg.dbt_cloud.job_id.as_ref().map(|j| j.value),
        yes,
        doing,
    )
}

/// The production gate, by job: asked when the chosen target says `confirm: true`, or when
/// any target marked so names `job_id` — however the command reached the job (`--job-id`,
/// `--job NAME`, `DBT_CLOUD_JOB_ID`, `--trigger`, another target).
pub fn confirm_job(
    global: &GlobalArgs,
    cfg: &Config,
    job_id: Option<i64>,
    yes: bool,
    doing: &str,
) -> Result<(), CliError> {
    let d = &cfg.dbt_cloud;
    let by_job = job_id.and_then(|j| d.protected_by(j));
    if yes || !(d.confirm.value || by_job.is_some()) {
        return Ok(());
    }
    let chosen = d
        .target
        .as_ref()
        .filter(|_| d.confirm.value)
        .map(|t| t.value.as_str());
    let what = match (chosen.or(by_job), job_id) {
        (Some(t), Some(j)) => format!("target `{t}` (job {j})"),
        (Some(t), None) => format!("target `{t}`"),
        (None, Some(j)) => format!("job {j}"),
        (None, None) => "this job".to_string(),
    };
    let interactive =
        !global.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(CliError::usage(format!(
            "{what} is marked `confirm: true` (it changes production): not {doing} without confirmation"
        ))
        .with_hint("pass --yes to go ahead (in CI, once a person has decided to)"));
    }
    let go = dialoguer::Confirm::new()
        .with_prompt(crate::terminal_text::escape(&format!(
            "{what} changes production. Go ahead with {doing}?"
        )))
        .default(false)
        .interact()
        .map_err(|e| CliError::new(Exit::Interrupted, format!("no answer: {e}")))?;
    if go {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "not confirmed: nothing was {}",
            if doing.starts_with("push") {
                "pushed or triggered"
            } else {
                "triggered"
            }
        )))
    }
}

/// A job as a command line names it (`--job`, `--after-job`, `--on-success-of`, `--trigger`):
/// all digits is an id (no request), anything else a name resolved by [`job_by_name`].
pub async fn resolve_job(client: &Client, cfg: &Config, spec: &str) -> Result<i64, CliError> {
    let s = spec.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| CliError::usage(format!("job id {s} is out of range")));
    }
    Ok(job_by_name(client, cfg, s).await?.value)
}

/// `--job NAME` → the job's id: exact name within the configured project, else
/// case-insensitive; none or several is exit 2 listing candidates with their ids.
pub async fn job_by_name(
    client: &Client,
    cfg: &Config,
    name: &str,
) -> Result<Sourced<i64>, CliError> {
    let project = cfg.dbt_cloud.project_id.as_ref().map(|p| p.value);
    let jobs = client.list_jobs(project, None).await?;
    let named = |exact: bool| -> Vec<(i64, String)> {
        jobs.iter()
            .filter_map(|j| Some((j.id?, j.name.clone()?)))
            .filter(|(_, n)| {
                if exact {
                    n == name
                } else {
                    n.eq_ignore_ascii_case(name)
                }
            })
            .collect()
    };
    let mut found = named(true);
    if found.is_empty() {
        found = named(false);
    }
    let listing = |list: &[(i64, String)]| {
        list.iter()
            .map(|(id, n)| format!("{id} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scope = project.map_or("the account".to_string(), |p| format!("project {p}"));
    match found.as_slice() {
        [(id, _)] => Ok(Sourced::new(*id, Source::Flag("--job".into()))),
        [] => {
            let all: Vec<(i64, String)> = jobs
                .iter()
                .filter_map(|j| Some((j.id?, j.name.clone()?)))
                .collect();
            let err = CliError::usage(format!("no job named {name:?} in {scope}"));
            Err(if all.is_empty() {
                err
            } else {
                err.with_hint(format!("jobs: {}", listing(&all)))
            })
        }
        several => Err(CliError::usage(format!(
            "{} jobs named {name:?} in {scope}: {}",
            several.len(),
            listing(several)
        ))
        .with_hint("pass --job-id with one of them")),
    }
}
