//! `dbt-run` with one job: resolve it, wait for its upstream (`--after-job`), then deploy.

use crate::cli::{DbtRunArgs, GlobalArgs};
use crate::cloud::Client;
use crate::commands::connect;
use crate::commands::deploying::{self, block_on};
use crate::commands::reporters::outputs::VerdictOutputs;
use crate::commands::reporters::terminal::Terminal;
use crate::config::{Config, FlagValues};
use crate::deploy::upstream::after_upstream;
use crate::deploy::{self, RunPlan};
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, args: &DbtRunArgs, shared: FlagValues, ui: &Ui) -> CmdResult {
    let flags = FlagValues {
        job_id: args.job_id.first().copied(),
        target: args.target.first().cloned(),
        ..shared
    };
    let mut cfg = connect::load(global, &flags)?;
    if let Some(name) = args.job.first() {
        let client = connect::client(&cfg, ui)?;
        cfg.dbt_cloud.job_id = Some(block_on(connect::job_by_name(&client, &cfg, name))?);
    }
    connect::confirm_target(global, &cfg, args.yes, "the trigger")?;
    let d = &cfg.dbt_cloud;
    let job_id = d.require_job_id()?;
    let mut request = super::flags::request_of(d, args)?;
    let client = connect::client(&cfg, ui)?;
    if let Some(up) = upstream_job(global, args, &client, &cfg)? {
        if up == job_id {
            return Err(CliError::usage(format!(
                "--after-job {up} is the job to trigger: name the upstream job"
            )));
        }
        let timeout = d.timeout.as_ref().map(|t| t.value);
        let cause = block_on(wait_upstream(&client, up, job_id, timeout, ui))?;
        if args.cause.is_none() && d.cause.is_none() {
            request.cause = cause;
        }
    }
    let plan = RunPlan {
        job_id,
        request,
        wait: args.sequential || (!args.no_wait && d.wait.value),
        timeout: d.timeout.as_ref().map(|t| t.value),
        cancel_on_timeout: args.cancel_on_timeout,
        cancel_on_interrupt: super::flags::cancels_on_stop(args),
        retries: deploy::retries_of(d),
        store: deploy::store_for(&cfg),
    };
    let outputs = VerdictOutputs {
        junit: args.junit.as_deref(),
        pr_comment: args.pr_comment,
    };
    block_on(deploying::one(&client, &plan, ui, &outputs))
}

/// The job named by `--after-target` (its target's job) or `--after-job`, if any.
fn upstream_job(
    global: &GlobalArgs,
    args: &DbtRunArgs,
    client: &Client,
    cfg: &Config,
) -> Result<Option<i64>, CliError> {
    if let Some(t) = &args.after_target {
        let flags = FlagValues {
            target: Some(t.clone()),
            ..connect::server_flags(&args.server)
        };
        return Ok(Some(
            connect::load(global, &flags)?.dbt_cloud.require_job_id()?,
        ));
    }
    match &args.after_job {
        Some(spec) => Ok(Some(block_on(connect::resolve_job(client, cfg, spec))?)),
        None => Ok(None),
    }
}

/// Wait for the upstream job's run: the downstream trigger's cause when it succeeded.
async fn wait_upstream(
    client: &Client,
    upstream: i64,
    downstream: i64,
    timeout: Option<std::time::Duration>,
    ui: &Ui,
) -> Result<String, CliError> {
    let terminal = Terminal::new(ui);
    Ok(after_upstream(client, &terminal, upstream, downstream, timeout).await?)
}
