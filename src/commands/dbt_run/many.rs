//! `dbt-run` with several jobs: `--target dev --target prod`, `--job-id` or `--job`
//! repeated. The verdict is the worst of them (error, then cancelled, then timeout, then
//! success); `--sequential` follows each run as one job and triggers the next one only after
//! it succeeded.

use crate::cli::{DbtRunArgs, GlobalArgs};
use crate::commands::connect;
use crate::commands::deploying::{self, block_on};
use crate::commands::reporters::outputs::VerdictOutputs;
use crate::config::{Config, FlagValues};
use crate::deploy::{self, ManyOptions, RunPlan, Unit};
use crate::error::{CliError, CmdResult};
use crate::ui::Ui;

pub fn run(global: &GlobalArgs, args: &DbtRunArgs, shared: FlagValues, ui: &Ui) -> CmdResult {
    if args.after_job.is_some() || args.after_target.is_some() {
        return Err(CliError::usage(
            "--after-job/--after-target trigger one job: name one --target, --job-id or --job",
        ));
    }
    if args.target.len() > 1 && !(args.job_id.is_empty() && args.job.is_empty()) {
        return Err(CliError::usage(
            "each --target triggers its own job: --job-id/--job cannot be combined with several --target",
        )
        .with_hint("name the jobs with --job-id (one --target may give their defaults), or the targets alone"));
    }
    let cfgs = configs(global, args, &shared, ui)?;
    for cfg in &cfgs {
        connect::confirm_target(global, cfg, args.yes, "the trigger")?;
    }
    let mut units = Vec::new();
    for cfg in &cfgs {
        units.push(Unit::of(cfg, plan_of(cfg, args)?));
    }
    let options = ManyOptions {
        wait: units.iter().any(|u| u.plan.wait),
        sequential: args.sequential,
    };
    check_retries(&units, options, args.retries.is_some())?;
    let client = connect::client(&cfgs[0], ui)?;
    block_on(deploying::many(
        &client,
        &units,
        options,
        ui,
        &VerdictOutputs {
            junit: args.junit.as_deref(),
            pr_comment: args.pr_comment,
        },
    ))
}

/// One configuration per job: per `--target`, per `--job-id`, per `--job` (by name).
fn configs(
    global: &GlobalArgs,
    args: &DbtRunArgs,
    shared: &FlagValues,
    ui: &Ui,
) -> Result<Vec<Config>, CliError> {
    let flags = |target: Option<&String>, job_id: Option<i64>| FlagValues {
        job_id,
        target: target.cloned(),
        ..shared.clone()
    };
    let mut cfgs: Vec<Config> = Vec::new();
    if args.target.len() > 1 {
        for t in &args.target {
            cfgs.push(connect::load(global, &flags(Some(t), None))?);
        }
        return Ok(cfgs);
    }
    let target = args.target.first();
    for &id in &args.job_id {
        cfgs.push(connect::load(global, &flags(target, Some(id)))?);
    }
    if !args.job.is_empty() {
        let base = connect::load(global, &flags(target, None))?;
        let client = connect::client(&base, ui)?;
        let ids = block_on(async {
            let mut ids = Vec::new();
            for name in &args.job {
                ids.push(connect::job_by_name(&client, &base, name).await?);
            }
            Ok(ids)
        })?;
        for id in ids {
            let mut cfg = base.clone();
            cfg.dbt_cloud.job_id = Some(id);
            cfgs.push(cfg);
        }
    }
    Ok(cfgs)
}

fn plan_of(cfg: &Config, args: &DbtRunArgs) -> Result<RunPlan, CliError> {
    let d = &cfg.dbt_cloud;
    Ok(RunPlan {
        job_id: d.require_job_id()?,
        request: super::flags::request_of(d, args)?,
        wait: args.sequential || (!args.no_wait && d.wait.value),
        timeout: d.timeout.as_ref().map(|t| t.value),
        cancel_on_timeout: args.cancel_on_timeout,
        cancel_on_interrupt: super::flags::cancels_on_stop(args),
        retries: deploy::retries_of(d),
        store: deploy::store_for(cfg),
    })
}

/// Retries of failed runs are a sequential affair (each is followed as a single run): asked
/// for with several jobs awaited at once, `--retries` is refused (a configured value is not
/// applied, with a warning from the core).
fn check_retries(units: &[Unit], options: ManyOptions, from_flag: bool) -> Result<(), CliError> {
    if options.sequential || !options.wait || units.iter().all(|u| u.plan.retries == 0) {
        return Ok(());
    }
    if from_flag {
        return Err(CliError::usage(
            "--retries with several jobs needs --sequential (runs awaited together are not retried)",
        ));
    }
    Ok(())
}
