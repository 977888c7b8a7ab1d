//! `datachonk cloud runs retry RUN [--wait]` and `cloud runs wait RUN…`: the deploy core's
//! follower for runs this invocation did not trigger.

use serde_json::{json, Value};

use crate::cloud::{retries, Client, Run, RunStatus};
use crate::commands::error::exit_of;
use crate::commands::reporters::documents::{run_json, runs_json, verdict_json};
use crate::commands::reporters::outputs::VerdictOutputs;
use crate::commands::reporters::terminal::Terminal;
use crate::commands::reporters::{self, junit};
use crate::config::Config;
use crate::deploy::clock::deadline_of;
use crate::deploy::{store_for, Deployment, Outcome, RunPlan};
use crate::error::{CliError, CmdResult, Exit};
use crate::signals::Interrupt;
use crate::ui::Ui;

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
    let deadline = deadline_of(cfg.dbt_cloud.timeout.as_ref().map(|t| t.value));
    let failed = client.get_run(run_id, RUN_RELATED).await?;
    let plan = plan_for(cfg, &failed);
    gate(plan.job_id)?;
    let (run, retry) = start_retry(client, &plan, &failed, deadline, ui).await?;
    if !wait {
        if ui.is_json() {
            let mut report = run_json("triggered", &run, None, false);
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
    let terminal = Terminal::new(ui);
    let verdict = Deployment::new(client, &terminal, &mut interrupt)
        .follow(&plan, run, deadline)
        .await?;
    let mut report = verdict_json(&verdict);
    report.set("retry_of", json!(run_id));
    report.set("retry", retry);
    if ui.is_json() {
        ui.json_object(report);
    }
    Ok(exit_of(verdict.outcome()))
}

/// Start the retry of `failed`: from its point of failure when it ended in Error, else by
/// dbt Cloud's retry (which has the last word). The run started and its `retry` document.
async fn start_retry(
    client: &Client,
    plan: &RunPlan,
    failed: &Run,
    deadline: Option<std::time::Instant>,
    ui: &Ui,
) -> Result<(Run, Value), CliError> {
    let run_id = failed.id;
    if failed.run_status() != RunStatus::Error {
        // Not an Error: dbt Cloud has the last word (a 400 with its reason, exit 6).
        let run = client.retry_run(run_id).await?;
        ui.status(format!("retry: run {run_id} → run {}", run.id));
        let retry = json!({ "plan": null, "run_id": run.id, "adopted": false });
        return Ok((run, retry));
    }
    let finished =
        crate::cloud::verdict::finish_within(client, &plan.store, failed, deadline).await;
    let rplan = retries::plan(failed, finished.insight.as_ref()).map_err(|why| {
        CliError::new(Exit::RunError, format!("cannot retry run {run_id}: {why}"))
    })?;
    let started = retries::start(client, plan.job_id, failed, &rplan, &plan.request).await?;
    ui.status(format!(
        "retry: run {run_id} → run {} {}",
        started.run.id,
        rplan.describe()
    ));
    let retry = json!({ "plan": rplan, "run_id": started.run.id, "adopted": started.adopted });
    Ok((started.run, retry))
}

/// Wait for every run in `run_ids`; one verdict, the worst (each run's in the JUnit file and
/// the pull-request comment, when `outputs` ask).
pub async fn wait(
    client: &Client,
    cfg: &Config,
    run_ids: &[i64],
    ui: &Ui,
    outputs: &VerdictOutputs<'_>,
) -> CmdResult {
    let mut interrupt = Interrupt::listen()?;
    let deadline = deadline_of(cfg.dbt_cloud.timeout.as_ref().map(|t| t.value));
    let terminal = Terminal::new(ui);
    let mut deployment = Deployment::new(client, &terminal, &mut interrupt);
    let mut verdicts = Vec::new();
    let mut worst = Outcome::Success;
    for &id in run_ids {
        let run = client.get_run(id, RUN_RELATED).await?;
        let plan = plan_for(cfg, &run);
        let verdict = deployment.follow(&plan, run, deadline).await?;
        let outcome = verdict.outcome();
        verdicts.push(verdict);
        // A stop signal ends the wait at once and decides by itself.
        if outcome == Outcome::Interrupted {
            worst = Outcome::Interrupted;
            break;
        }
        worst = Outcome::worst([worst, outcome]);
    }
    let runs: Vec<_> = verdicts.iter().flat_map(junit::of_verdict).collect();
    reporters::outputs::publish(ui, &runs, worst.word(), outputs, None).await?;
    if ui.is_json() {
        // Built after the wait: each run's document borrows its verdict's nodes.
        let reports = verdicts.iter().map(verdict_json).collect();
        ui.json_object(runs_json(worst.word(), reports));
    } else if run_ids.len() > 1 {
        ui.out(format!(
            "{} runs: {}",
            run_ids.len(),
            worst.word().to_ascii_uppercase()
        ));
    }
    Ok(exit_of(worst))
}

/// `runs show RUN --junit FILE`: the finished run's verdict as the commands that wait write
/// it. A run still going has no verdict yet: refused, and no file is written.
pub async fn write_junit(
    client: &Client,
    cfg: &Config,
    run: &Run,
    path: &std::path::Path,
) -> Result<(), CliError> {
    let status = run.run_status();
    if !status.is_terminal() {
        return Err(CliError::usage(format!(
            "--junit {}: run {} is {}, not finished: it has no verdict to report yet",
            path.display(),
            run.id,
            status.label().to_ascii_lowercase()
        ))
        .with_hint(format!(
            "wait for it and write the report then: datachonk cloud runs wait {} --junit {}",
            run.id,
            path.display()
        )));
    }
    let finished = crate::cloud::verdict::finish(client, &store_for(cfg), run).await;
    let report = junit::RunReport {
        run,
        finished: Some(&finished),
        unfinished: None,
        label: None,
    };
    junit::write(path, &[report])
}
