//! The connection as commands ask for it: their clap flags turned into configuration flag
//! values, and `crate::connect` (the client, named jobs, the production gate) with its errors
//! mapped to exit codes. The work is in `crate::connect`.

use crate::cli::{ConnectionArgs, GlobalArgs, ServerArgs};
use crate::cloud::Client;
use crate::config::{self, Config, FlagValues, ProcessEnv, Sourced};
use crate::error::CliError;
use crate::ui::Ui;

/// Flag values of the connection flags every cloud-facing command takes.
pub fn connection_flags(c: &ConnectionArgs) -> FlagValues {
    c.flags()
}

/// Flag values of the server flags (access URL, account).
pub fn server_flags(s: &ServerArgs) -> FlagValues {
    s.flags()
}

/// Load the configuration for a command.
pub fn load(global: &GlobalArgs, flags: &FlagValues) -> Result<Config, CliError> {
    Ok(config::load(&global.load_options(), flags, &ProcessEnv)?)
}

/// A client for the configured account; missing token or account id is a usage error (2).
pub fn client(cfg: &Config, ui: &Ui) -> Result<Client, CliError> {
    Ok(crate::connect::client(cfg, ui.debug_log())?)
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

/// The production gate, by job (see `crate::connect::confirm_job`).
pub fn confirm_job(
    global: &GlobalArgs,
    cfg: &Config,
    job_id: Option<i64>,
    yes: bool,
    doing: &str,
) -> Result<(), CliError> {
    Ok(crate::connect::confirm_job(
        global.no_input,
        cfg,
        job_id,
        yes,
        doing,
    )?)
}

/// A job as a command line names it: all digits is an id, anything else a name.
pub async fn resolve_job(client: &Client, cfg: &Config, spec: &str) -> Result<i64, CliError> {
    Ok(crate::connect::resolve_job(client, cfg, spec).await?)
}

/// `--job NAME` → the job's id (see `crate::connect::job_by_name`).
pub async fn job_by_name(
    client: &Client,
    cfg: &Config,
    name: &str,
) -> Result<Sourced<i64>, CliError> {
    Ok(crate::connect::job_by_name(client, cfg, name).await?)
}
