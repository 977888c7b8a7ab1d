//! `dbt-run` (and `push`) with several jobs: `--target dev --target prod`, `--job-id` or
//! `--job` repeated. Each job is triggered at most once, exactly as the single trigger
//! (`dbt_run::trigger`); then every run is awaited with one list request per poll cycle
//! (`cloud::multi_wait`), and the verdict is the worst of them (error, then cancelled, then
//! timeout, then success). `--sequential` follows each run as a single `dbt-run --wait` and
//! triggers the next one only after it succeeded.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::cli::{DbtRunArgs, GlobalArgs};
use crate::cloud::multi_wait::{self, Awaited, MultiEvent, MultiWaitStats, RunEnd};
use crate::cloud::{Client, Run, RunStatus};
use crate::config::{Config, FlagValues};
use crate::error::{CliError, CmdResult, Exit};
use crate::{error::outcome_word, ui::Ui};

use super::connect;
use super::dbt_run::{self, Finished, Interrupt, RunPlan};

/// Whether the command line names several jobs.
pub fn is_many(args: &DbtRunArgs) -> bool {
    args.target.len() > 1 || args.job_id.len() + args.job.len() > 1
}

/// One job to trigger: what to call it in the output, and how to trigger and wait.
#[derive(Debug, Clone)]
pub struct Unit {
    /// `dev (job 1)` for a target, `job 1` otherwise.
    pub label: String,
    pub target: Option<String>,
    pub plan: RunPlan,
}

impl Unit {
    /// The unit of a resolved configuration (its target, job, trigger overrides and timeout).
    pub fn of(cfg: &Config, plan: RunPlan) -> Unit {
        let target = cfg.dbt_cloud.target.as_ref().map(|t| t.value.clone());
        let label = match &target {
            Some(t) => format!("{t}, job {}", plan.job_id),
            None => format!("job {}", plan.job_id),
        };
        Unit {
            label,
            target,
            plan,
        }
    }
}

/// How several runs are triggered and awaited.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManyOptions {
    pub wait: bool,
    pub sequential: bool,
}

pub fn run(global: &GlobalArgs, args: &DbtRunArgs, ui: &Ui) -> CmdResult {
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
    let flags = |target: Option<&String>, job_id: Option<i64>| FlagValues {
        job_id,
        target: target.cloned(),
        ..dbt_run::flag_values(args)
    };
    let mut cfgs: Vec<Config> = Vec::new();
    if args.target.len() > 1 {
        for t in &args.target {
            cfgs.push(connect::load(global, &flags(Some(t), None))?);
        }
    } else {
        let target = args.target.first();
        for &id in &args.job_id {
            cfgs.push(connect::load(global, &flags(target, Some(id)))?);
        }
        if !args.job.is_empty() {
            let base = connect::load(global, &flags(target, None))?;
            let client = connect::client(&base, ui)?;
            let rt = super::runtime()?;
            let found: Result<Vec<_>, CliError> = rt.block_on(async {
                let mut ids = Vec::new();
                for name in &args.job {
                    ids.push(connect::job_by_name(&client, &base, name).await?);
                }
                Ok(ids)
            });
            rt.shutdown_background();
            for id in found? {
                let mut cfg = base.clone();
                cfg.dbt_cloud.job_id = Some(id);
                cfgs.push(cfg);
            }
        }
    }
    for cfg in &cfgs {
        connect::confirm_target(global, cfg, args.yes, "the trigger")?;
    }
    let mut units = Vec::new();
    for cfg in &cfgs {
        let d = &cfg.dbt_cloud;
        let plan = RunPlan {
            job_id: d.require_job_id()?,
            request: dbt_run::trigger_request(
                d,
                args.git_sha.as_deref(),
                args.git_branch.as_deref(),
            )?,
            wait: args.sequential || (!args.no_wait && d.wait.value),
            timeout: d.timeout.as_ref().map(|t| t.value),
            cancel_on_timeout: args.cancel_on_timeout,
            cancel_on_interrupt: args.cancel_on_interrupt,
            retries: dbt_run::retries_of(d),
            store: super::cloud_insight::store_for(cfg),
        };
        units.push(Unit::of(cfg, plan));
    }
    let options = ManyOptions {
        wait: units.iter().any(|u| u.plan.wait),
        sequential: args.sequential,
    };
    check_retries(&units, options, args.retries.is_some())?;
    let client = connect::client(&cfgs[0], ui)?;
    let rt = super::runtime()?;
    let result = rt.block_on(trigger_all_and_report(&client, &units, options, ui));
    rt.shutdown_background();
    result
}

/// Retries of failed runs are a sequential affair (each is followed as a single run): asked
/// for with several jobs awaited at once, `--retries` is refused and a configured value is
/// not applied (with a warning).
pub fn check_retries(
    units: &[Unit],
    options: ManyOptions,
    from_flag: bool,
) -> Result<(), CliError> {
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

/// Trigger every unit's job, then (with `options.wait`) wait for all of them and print one
/// verdict; `--json`: one document holding every run.
pub async fn trigger_all_and_report(
    client: &Client,
    units: &[Unit],
    options: ManyOptions,
    ui: &Ui,
) -> CmdResult {
    let mut interrupt = Interrupt::listen()?;
    if options.sequential {
        return sequential(client, units, &mut interrupt, ui).await;
    }
    if options.wait && units.iter().any(|u| u.plan.retries > 0) {
        ui.warn("retries (deploy.dbt_cloud.retries) are not applied to runs awaited together: use --sequential");
    }
    let mut awaited: Vec<Awaited> = Vec::new();
    for unit in units {
        let deadline = unit.plan.timeout.map(|t| Instant::now() + t);
        match dbt_run::trigger(client, &unit.plan, deadline, &mut interrupt, ui).await {
            Ok(run) => awaited.push(Awaited::new(run, None, deadline)),
            Err(e) => return Err(with_triggered_so_far(e, units, &awaited)),
        }
    }
    if !options.wait {
        let mut reports = Vec::new();
        for (unit, a) in units.iter().zip(&awaited) {
            let url = dbt_run::url_of(client, &a.run);
            if !ui.is_json() {
                ui.out(format!(
                    "run {} ({}) triggered: {url}",
                    a.run.id, unit.label
                ));
            }
            reports.push(labelled(
                dbt_run::report_json("triggered", &a.run, None, false),
                unit,
            ));
        }
        if ui.is_json() {
            ui.json(&json!({ "outcome": "triggered", "runs": reports }));
        }
        return Ok(Exit::Success);
    }
    let jobs: Vec<i64> = units.iter().map(|u| u.plan.job_id).collect();
    let history_by = Instant::now() + dbt_run::HISTORY_LIMIT;
    let expected = dbt_run::within(
        Some(history_by),
        multi_wait::expected_running_times(client, &jobs),
    )
    .await
    .unwrap_or_default();
    for (a, job) in awaited.iter_mut().zip(&jobs) {
        a.expected_running = expected.get(job).copied();
    }
    let labels: BTreeMap<i64, &str> = units
        .iter()
        .zip(&awaited)
        .map(|(u, a)| (a.run.id, u.label.as_str()))
        .collect();
    let mut on_event = |e: MultiEvent<'_>| match e {
        MultiEvent::Status(run) => ui.status(format!(
            "run {} ({}): {}",
            run.id,
            labels.get(&run.id).copied().unwrap_or_default(),
            run.run_status().label()
        )),
        MultiEvent::GaveUp(run) => ui.status(format!(
            "run {} ({}): gave up waiting, still {}",
            run.id,
            labels.get(&run.id).copied().unwrap_or_default(),
            run.run_status().label()
        )),
    };
    let mut stats = MultiWaitStats::default();
    let waited = tokio::select! {
        r = multi_wait::wait_for_runs(client, &mut awaited, &mut stats, &mut on_event) => Some(r),
        _ = interrupt.recv() => None,
    };
    client.debug(&format!(
        "{} list requests for {} runs",
        stats.polls,
        awaited.len()
    ));
    let mut ended: Vec<(Exit, Value)> = Vec::new();
    match waited {
        Some(Err(e)) => Err(with_triggered_so_far(e.into(), units, &awaited)),
        None => {
            for (unit, a) in units.iter().zip(awaited) {
                ended.push(if a.is_pending() {
                    interrupted(client, unit, a.run, ui).await
                } else {
                    verdict(client, unit, a, ui).await
                });
            }
            report(ui, ended, Some(crate::signals::stop_exit()))
        }
        Some(Ok(())) => {
            for (unit, a) in units.iter().zip(awaited) {
                ended.push(verdict(client, unit, a, ui).await);
            }
            report(ui, ended, None)
        }
    }
}

/// Each job after the previous one succeeded, each followed as `dbt-run --wait` does
/// (steps, node summary, retries); the rest are not triggered after a failure.
async fn sequential(
    client: &Client,
    units: &[Unit],
    interrupt: &mut Interrupt,
    ui: &Ui,
) -> CmdResult {
    let mut ended: Vec<(Exit, Value)> = Vec::new();
    let mut stopped: Option<Exit> = None;
    for unit in units {
        if let Some(why) = stopped {
            let word = outcome_word(why);
            if !ui.is_json() {
                ui.out(format!(
                    "NOT TRIGGERED {} (an earlier run ended: {word})",
                    unit.label
                ));
            }
            ended.push((
                Exit::Success,
                json!({ "outcome": "not_triggered", "label": unit.label, "target": unit.target, "job_id": unit.plan.job_id }),
            ));
            continue;
        }
        let deadline = unit.plan.timeout.map(|t| Instant::now() + t);
        let run = dbt_run::trigger(client, &unit.plan, deadline, interrupt, ui).await?;
        ui.status(format!("  {}", dbt_run::url_of(client, &run)));
        let followed = dbt_run::follow(client, &unit.plan, run, deadline, interrupt, ui).await?;
        if followed.exit != Exit::Success {
            stopped = Some(followed.exit);
        }
        let interrupted = crate::signals::is_stop(followed.exit);
        ended.push((followed.exit, labelled(followed.report, unit)));
        if interrupted {
            return report(ui, ended, Some(crate::signals::stop_exit()));
        }
    }
    report(ui, ended, None)
}

/// A finished or timed-out run's verdict, printed, with its `--json` report. Nodes are read
/// only for a run that ended in Error (its failing nodes): the summary of fifty successful
/// runs is not worth a hundred more requests.
async fn verdict(client: &Client, unit: &Unit, a: Awaited, ui: &Ui) -> (Exit, Value) {
    if matches!(a.end, Some(RunEnd::TimedOut)) {
        return timed_out(client, unit, a.run, ui).await;
    }
    let (run, finished) = if a.run.run_status() == RunStatus::Error {
        // The list does not carry steps: read the run with them (once) to find what failed.
        let read = client.get_run(a.run.id, &["run_steps", "job", "trigger"]);
        let run = match dbt_run::within(a.deadline, read).await {
            Some(Ok(run)) => run,
            _ => a.run,
        };
        let finished =
            crate::cloud::verdict::finish_within(client, &unit.plan.store, &run, a.deadline).await;
        (run, finished)
    } else {
        let nothing = Finished {
            insight: None,
            insight_error: None,
            failure: None,
        };
        (a.run, nothing)
    };
    dbt_run::print_finished_labelled(ui, &run, &finished, true, Some(&unit.label));
    let followed = dbt_run::finished_report(&run, &finished);
    (followed.exit, labelled(followed.report, unit))
}

async fn timed_out(client: &Client, unit: &Unit, last: Run, ui: &Ui) -> (Exit, Value) {
    let limit = dbt_run::limit_text(&unit.plan);
    let (last, cancelled) = if unit.plan.cancel_on_timeout {
        dbt_run::cancel(client, ui, last, &format!("gave up after {limit}")).await
    } else {
        (last, false)
    };
    if !ui.is_json() {
        let state = if cancelled {
            "cancelled".to_string()
        } else {
            format!("still {} (left running)", last.run_status().label())
        };
        ui.out(format!(
            "{} run {} ({}) {state} after {limit}",
            ui.warnish("TIMEOUT"),
            last.id,
            unit.label
        ));
    }
    let report = dbt_run::report_json("timeout", &last, None, cancelled);
    (Exit::Timeout, labelled(report, unit))
}

async fn interrupted(client: &Client, unit: &Unit, last: Run, ui: &Ui) -> (Exit, Value) {
    let (last, cancelled) = if unit.plan.cancel_on_interrupt {
        ui.status(format!("Interrupted: cancelling run {}…", last.id));
        dbt_run::cancel(client, ui, last, "interrupted").await
    } else {
        ui.status(format!(
            "Interrupted: run {} keeps running ({})",
            last.id,
            dbt_run::url_of(client, &last)
        ));
        (last, false)
    };
    let report = dbt_run::report_json("interrupted", &last, None, cancelled);
    (crate::signals::stop_exit(), labelled(report, unit))
}

fn labelled(mut report: Value, unit: &Unit) -> Value {
    report["label"] = json!(unit.label);
    report["target"] = json!(unit.target);
    report
}

/// How bad an ending is: error > cancelled > timeout > success.
fn severity(exit: Exit) -> u8 {
    match exit {
        Exit::RunError => 4,
        Exit::Cancelled => 3,
        Exit::Timeout => 2,
        Exit::Success => 0,
        _ => 1,
    }
}

/// The one verdict (the worst, or `forced`), its line, and the `--json` document.
fn report(ui: &Ui, ended: Vec<(Exit, Value)>, forced: Option<Exit>) -> CmdResult {
    let worst = forced.unwrap_or_else(|| {
        ended
            .iter()
            .map(|(e, _)| *e)
            .max_by_key(|e| severity(*e))
            .unwrap_or(Exit::Success)
    });
    if ui.is_json() {
        let runs: Vec<Value> = ended.into_iter().map(|(_, r)| r).collect();
        ui.json(&json!({ "outcome": outcome_word(worst), "runs": runs }));
    } else {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, r) in &ended {
            *counts
                .entry(r["outcome"].as_str().unwrap_or("unknown"))
                .or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        ui.out(format!(
            "{} runs: {} ({})",
            ended.len(),
            outcome_word(worst).to_ascii_uppercase(),
            counts.join(", ")
        ));
    }
    Ok(worst)
}

/// A failure after some runs were triggered names them: they keep running.
fn with_triggered_so_far(e: CliError, units: &[Unit], awaited: &[Awaited]) -> CliError {
    if awaited.is_empty() {
        return e;
    }
    let list: Vec<String> = units
        .iter()
        .zip(awaited)
        .map(|(u, a)| format!("run {} ({})", a.run.id, u.label))
        .collect();
    e.with_hint(format!(
        "already triggered, still running: {}",
        list.join(", ")
    ))
}
