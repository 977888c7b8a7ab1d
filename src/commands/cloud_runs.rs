//! `datachonk cloud runs retry RUN [--wait]` and `cloud runs wait RUN…`: the waiter of
//! `dbt-run --wait` for runs this invocation did not trigger.

use std::time::Instant;

use serde_json::{json, Value};

use crate::cloud::{retries, Client, Run, RunStatus};
use crate::config::Config;
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

use super::cloud_insight::store_for;
use super::dbt_run::{self, Followed, Interrupt, RunPlan};

const RUN_RELATED: &[&str] = &["run_steps", "job", "trigger"];

/// How to wait on `run` (no trigger of ours: the request is what the run says it came from).
fn plan_for(cfg: &Config, run: &Run) -> RunPlan {
    RunPlan {
        job_id: run.job().unwrap_or_default(),
        request: retries::request_of(run),
        wait: true,
        timeout: cfg.dbt_cloud.timeout.as_ref().map(|t| t.value),
        cancel_on_timeout: false,
        cancel_on_interrupt: false,
        retries: 0,
        store: store_for(cfg),
    }
}

/// Retry a failed run from the point of failure; with `wait`, follow the retry to its verdict.
/// `gate` is the production gate, asked with the run's job before anything is triggered.
pub async fn retry(
    client: &Client,
    cfg: &Config,
    run_id: i64,
    wait: bool,
    gate: &dyn Fn(i64) -> Result<(), CliError>,
    ui: &Ui,
) -> CmdResult {
    let mut interrupt = Interrupt::listen()?;
    let deadline = cfg
        .dbt_cloud
        .timeout
        .as_ref()
        .map(|t| Instant::now() + t.value);
    let failed = client.get_run(run_id, RUN_RELATED).await?;
    let plan = plan_for(cfg, &failed);
    gate(plan.job_id)?;
    let (run, retry) = if failed.run_status() == RunStatus::Error {
        let finished =
            crate::cloud::verdict::finish_within(client, &plan.store, &failed, deadline).await;
        let rplan = retries::plan(&failed, finished.insight.as_ref()).map_err(|why| {
            CliError::new(Exit::RunError, format!("cannot retry run {run_id}: {why}"))
        })?;
        let started = retries::start(client, plan.job_id, &failed, &rplan, &plan.request).await?;
        ui.status(format!(
            "retry: run {run_id} → run {} {}",
            started.run.id,
            rplan.describe()
        ));
        let retry = json!({ "plan": rplan, "run_id": started.run.id, "adopted": started.adopted });
        (started.run, retry)
    } else {
        // Not an Error: dbt Cloud has the last word (a 400 with its reason, exit 6).
        let run = client.retry_run(run_id).await?;
        ui.status(format!("retry: run {run_id} → run {}", run.id));
        let retry = json!({ "plan": null, "run_id": run.id, "adopted": false });
        (run, retry)
    };
    if !wait {
        if ui.is_json() {
            let mut report = dbt_run::report_json("triggered", &run, None, false);
            report["retry_of"] = json!(run_id);
            report["retry"] = retry;
            ui.json(&report);
        } else {
            ui.out(format!(
                "run {} retries run {run_id}: {}",
                run.id,
                run.href.as_deref().unwrap_or_default()
            ));
        }
        return Ok(Exit::Success);
    }
    let mut followed = dbt_run::follow(client, &plan, run, deadline, &mut interrupt, ui).await?;
    followed.report["retry_of"] = json!(run_id);
    followed.report["retry"] = retry;
    if ui.is_json() {
        ui.json(&followed.report);
    }
    Ok(followed.exit)
}

/// How bad an ending is, for the one verdict of several runs: error > cancelled > timeout >
/// success (an interrupt ends the wait at once).
fn severity(exit: Exit) -> u8 {
    match exit {
        Exit::RunError => 4,
        Exit::Cancelled => 3,
        Exit::Timeout => 2,
        Exit::Success => 0,
        _ => 1,
    }
}

fn outcome_word(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "success",
        Exit::RunError => "error",
        Exit::Cancelled => "cancelled",
        Exit::Timeout => "timeout",
        e if crate::signals::is_stop(e) => "interrupted",
        _ => "failed",
    }
}

/// Wait for every run in `run_ids`; one verdict, the worst.
pub async fn wait(client: &Client, cfg: &Config, run_ids: &[i64], ui: &Ui) -> CmdResult {
    let mut interrupt = Interrupt::listen()?;
    let deadline = cfg
        .dbt_cloud
        .timeout
        .as_ref()
        .map(|t| Instant::now() + t.value);
    let mut reports: Vec<Value> = Vec::new();
    let mut worst = Exit::Success;
    for &id in run_ids {
        let run = client.get_run(id, RUN_RELATED).await?;
        let plan = plan_for(cfg, &run);
        let Followed { exit, report } =
            dbt_run::follow(client, &plan, run, deadline, &mut interrupt, ui).await?;
        reports.push(report);
        if crate::signals::is_stop(exit) {
            worst = exit;
            break;
        }
        if severity(exit) > severity(worst) {
            worst = exit;
        }
    }
    if ui.is_json() {
        ui.json(&json!({ "outcome": outcome_word(worst), "runs": reports }));
    } else if run_ids.len() > 1 {
        ui.out(format!(
            "{} runs: {}",
            run_ids.len(),
            outcome_word(worst).to_ascii_uppercase()
        ));
    }
    Ok(worst)
}
