//! `datachonk quickstart`: the README's first command. With no account and no network it
//! starts the embedded sandbox (a local dbt Cloud), triggers its validation job, waits and
//! prints the verdict, stage by stage. (The generate → push stages join when they land.)

use secrecy::SecretString;

use crate::cli::{GlobalArgs, QuickstartArgs};
use crate::cloud::{Client, ClientOptions};
use crate::error::{CliError, CmdResult, Exit};
use crate::sandbox::{Sandbox, SandboxOptions, DEFAULT_TOKEN};
use crate::ui::Ui;

use super::dbt_run::{self, RunPlan};

pub fn run(_global: &GlobalArgs, _args: &QuickstartArgs, ui: &Ui) -> CmdResult {
    ui.status(ui.bold("1/3 start a local dbt Cloud (the embedded sandbox)"));
    let sandbox = Sandbox::start(SandboxOptions::default())
        .map_err(|e| CliError::new(Exit::Api, format!("cannot start the sandbox: {e}")))?;
    let url = sandbox.base_url();
    ui.status(format!(
        "  listening on {url} (account 1, project 1, job 1: a state-aware validation job)"
    ));

    ui.status(ui.bold("2/3 trigger job 1 through the dbt Cloud API v2"));
    let token = SecretString::from(DEFAULT_TOKEN.to_string());
    let client = Client::new(
        &url,
        1,
        &token,
        "the embedded sandbox",
        ClientOptions::default(),
    )?;
    let plan = RunPlan {
        job_id: 1,
        request: crate::cloud::TriggerRequest {
            cause: "datachonk quickstart".into(),
            ..Default::default()
        },
        wait: true,
        timeout: Some(std::time::Duration::from_secs(120)),
        cancel_on_timeout: true,
        cancel_on_interrupt: true,
    };
    let rt = super::runtime()?;
    ui.status(ui.bold("3/3 wait for the verdict"));
    let result = rt.block_on(dbt_run::trigger_and_report(&client, &plan, ui));
    rt.shutdown_background();
    if let Ok(Exit::Success) = result {
        ui.status("");
        ui.status("Next: point datachonk at your own dbt Cloud account:");
        ui.status(
            "  export DBT_CLOUD_ACCESS_URL=https://YOUR_PREFIX.us1.dbt.com DBT_CLOUD_API_TOKEN=…",
        );
        ui.status("  export DBT_CLOUD_ACCOUNT_ID=… DBT_CLOUD_JOB_ID=…");
        ui.status("  datachonk cloud status && datachonk dbt-run --wait");
    }
    sandbox.shutdown();
    result
}
