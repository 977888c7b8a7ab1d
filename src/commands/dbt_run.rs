//! `datachonk dbt-run`: trigger the configured job and optionally wait for its verdict.
//! The trigger-and-wait part is shared with `push --trigger-dbt-run` and `quickstart`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::{DbtRunArgs, GlobalArgs};
use crate::cloud::cancel::cancel_and_confirm;
use crate::cloud::failure::FailureReport;
use crate::cloud::insight::ArtifactStore;
use crate::cloud::request;
pub use crate::cloud::request::default_cause;
use crate::cloud::retries;
pub use crate::cloud::verdict::{finish, Finished};
use crate::cloud::wait::{self, WaitEnd, WaitEvent, WaitOptions, WaitStats};
use crate::cloud::{trigger_run, Client, Run, RunStatus, TriggerRequest};
use crate::config::{DbtCloudConfig, FlagValues};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

use super::connect;

pub fn run(global: &GlobalArgs, args: &DbtRunArgs, ui: &Ui) -> CmdResult {
    if super::dbt_run_many::is_many(args) {
        return super::dbt_run_many::run(global, args, ui);
    }
    let flags = FlagValues {
        job_id: args.job_id.first().copied(),
        target: args.target.first().cloned(),
        ..flag_values(args)
    };
    let mut cfg = connect::load(global, &flags)?;
    if let Some(name) = args.job.first() {
        let client = connect::client(&cfg, ui)?;
        let rt = super::runtime()?;
        let found = rt.block_on(connect::job_by_name(&client, &cfg, name));
        rt.shutdown_background();
        cfg.dbt_cloud.job_id = Some(found?);
    }
    connect::confirm_target(global, &cfg, args.yes, "the trigger")?;
    let d = &cfg.dbt_cloud;
    let job_id = d.require_job_id()?;
    let mut request = trigger_request(d, args.git_sha.as_deref(), args.git_branch.as_deref())?;
    let client = connect::client(&cfg, ui)?;
    let upstream_job = match &args.after_target {
        Some(t) => Some(
            connect::load(
                global,
                &FlagValues {
                    target: Some(t.clone()),
                    ..connect::server_flags(&args.server)
                },
            )?
            .dbt_cloud
            .require_job_id()?,
        ),
        None => match &args.after_job {
            Some(spec) => {
                let rt = super::runtime()?;
                let found = rt.block_on(connect::resolve_job(&client, &cfg, spec));
                rt.shutdown_background();
                Some(found?)
            }
            None => None,
        },
    };
    if let Some(up) = upstream_job {
        if up == job_id {
            return Err(CliError::usage(format!(
                "--after-job {up} is the job to trigger: name the upstream job"
            )));
        }
        let timeout = d.timeout.as_ref().map(|t| t.value);
        let rt = super::runtime()?;
        let upstream = rt.block_on(after_upstream(&client, up, job_id, timeout, ui));
        rt.shutdown_background();
        let cause = upstream?;
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
        cancel_on_interrupt: args.cancel_on_interrupt,
        retries: retries_of(d),
        store: super::cloud_insight::store_for(&cfg),
    };
    let rt = super::runtime()?;
    let result = rt.block_on(trigger_and_report(&client, &plan, ui));
    // Never let an idle keep-alive connection delay the exit.
    rt.shutdown_background();
    result
}

/// The flags every job of the command shares (all but the job and the target).
pub(crate) fn flag_values(args: &DbtRunArgs) -> FlagValues {
    FlagValues {
        wait: Some(args.wait || args.sequential),
        timeout: args.timeout.clone(),
        cause: args.cause.clone(),
        schema_override: args.schema_override.clone(),
        target_name_override: args.target_name_override.clone(),
        threads_override: args.threads_override,
        steps_override: Some(args.steps_override.clone()),
        timeout_seconds_override: args.timeout_seconds_override,
        dbt_version_override: args.dbt_version_override.clone(),
        generate_docs_override: args.generate_docs_override,
        retries: args.retries,
        ..connect::server_flags(&args.server)
    }
}

/// Wait for the upstream job's run; the downstream trigger's cause when it succeeded, else
/// the exit that says how it ended (nothing is triggered then).
async fn after_upstream(
    client: &Client,
    upstream: i64,
    downstream: i64,
    timeout: Option<Duration>,
    ui: &Ui,
) -> Result<String, CliError> {
    use crate::cloud::upstream::{await_upstream, Upstream};
    let deadline = timeout.map(|t| Instant::now() + t);
    let name = client
        .get_job(upstream)
        .await?
        .name
        .unwrap_or_else(|| format!("job {upstream}"));
    let mut waiting = |newest: i64| {
        ui.status(format!(
            "waiting for the next run of job {upstream} ({name}) to start (newest so far: {newest})"
        ))
    };
    let mut last = None;
    let mut on_event = |e: WaitEvent<'_>| {
        if let WaitEvent::Status(run) = e {
            if last != Some(run.run_status()) {
                last = Some(run.run_status());
                ui.status(format!(
                    "upstream run {} of job {upstream}: {}",
                    run.id,
                    run.run_status().label()
                ));
            }
        }
    };
    let end = await_upstream(client, upstream, deadline, &mut waiting, &mut on_event).await?;
    let not_triggered = format!("job {downstream} was not triggered");
    match end {
        Upstream::Finished(run) => match run.run_status() {
            RunStatus::Success => Ok(crate::cloud::sensor::cause_for(run.id, &name)),
            RunStatus::Cancelled => Err(CliError::new(
                Exit::Cancelled,
                format!("upstream run {} of job {upstream} ({name}) was cancelled: {not_triggered}", run.id),
            )),
            _ => Err(CliError::new(
                Exit::RunError,
                format!("upstream run {} of job {upstream} ({name}) ended in Error: {not_triggered}", run.id),
            )
            .with_hint(format!("see it: datachonk cloud runs show {} --nodes", run.id))),
        },
        Upstream::TimedOut(run) => Err(CliError::new(
            Exit::Timeout,
            match run {
                Some(r) => format!(
                    "upstream run {} of job {upstream} did not finish within --timeout: {not_triggered}",
                    r.id
                ),
                None => format!(
                    "no run of job {upstream} started within --timeout: {not_triggered}"
                ),
            },
        )),
    }
}

/// What to trigger and how to wait.
#[derive(Debug, Clone)]
pub struct RunPlan {
    pub job_id: i64,
    pub request: TriggerRequest,
    pub wait: bool,
    pub timeout: Option<Duration>,
    pub cancel_on_timeout: bool,
    pub cancel_on_interrupt: bool,
    /// Retries of a run that ends in Error, from the point of failure.
    pub retries: u32,
    /// Where finished runs' artifacts are kept (the node summary reads them).
    pub store: ArtifactStore,
}

/// `deploy.dbt_cloud.retries` / `--retries` (validated ≥ 0 by the configuration).
pub fn retries_of(d: &DbtCloudConfig) -> u32 {
    u32::try_from(d.retries.value).unwrap_or(0)
}

/// The trigger body from the configuration, the commit and branch (see
/// [`request::from_config`]); a bad cause is a usage error.
pub fn trigger_request(
    d: &DbtCloudConfig,
    git_sha: Option<&str>,
    git_branch: Option<&str>,
) -> Result<TriggerRequest, CliError> {
    request::from_config(d, git_sha, git_branch).map_err(CliError::usage)
}

/// How long cancelling (and confirming it) may take after the deadline or a Ctrl-C.
pub(crate) const CANCEL_BUDGET: Duration = Duration::from_secs(5);
/// How long the job's history (it only tunes the poll schedule) may delay the first poll.
pub(crate) const HISTORY_LIMIT: Duration = Duration::from_secs(5);

/// Trigger, optionally wait, print the verdict; the exit status follows DESIGN.md.
///
/// `plan.timeout` is a deadline for all of it, requests included: the trigger (with any
/// look-up after a lost answer) and the wait. Whatever a request is doing, the command
/// gives up at the deadline (exit 4), then cancels the run if asked, within a few seconds.
pub async fn trigger_and_report(client: &Client, plan: &RunPlan, ui: &Ui) -> CmdResult {
    // Listen for Ctrl-C from the start (registered now, not when first polled): during the
    // trigger it ends the command saying a run may exist; while waiting it leaves or cancels.
    let mut interrupt = Interrupt::listen()?;
    let deadline = plan.timeout.map(|t| Instant::now() + t);
    let run = trigger(client, plan, deadline, &mut interrupt, ui).await?;
    let url = run
        .href
        .clone()
        .unwrap_or_else(|| format!("{}/ (run {})", client.base_url(), run.id));
    ui.status(format!("  {url}"));
    if !plan.wait {
        if ui.is_json() {
            ui.json(&report_json("triggered", &run, None, false));
        } else {
            ui.out(format!("run {} triggered: {url}", run.id));
        }
        return Ok(Exit::Success);
    }
    let followed = follow(client, plan, run, deadline, &mut interrupt, ui).await?;
    if ui.is_json() {
        ui.json(&followed.report);
    }
    Ok(followed.exit)
}

/// How following a run ended: the exit status and the `--json` document (the caller prints it,
/// so that `cloud runs wait` can put several in one).
#[derive(Debug)]
pub struct Followed {
    pub exit: Exit,
    pub report: Value,
}

/// Wait for `run`'s verdict and print it with the node summary; on Error retry it from the
/// point of failure up to `plan.retries` times (never after a cancellation or the deadline).
/// The verdict and exit status are the last attempt's; the report lists every attempt.
pub async fn follow(
    client: &Client,
    plan: &RunPlan,
    first: Run,
    deadline: Option<Instant>,
    interrupt: &mut Interrupt,
    ui: &Ui,
) -> Result<Followed, CliError> {
    let mut run = first;
    let mut request = plan.request.clone();
    let mut attempts: Vec<Value> = Vec::new();
    let mut retried = 0u32;
    loop {
        let url = url_of(client, &run);
        let mut stats = WaitStats::default();
        let waited = tokio::select! {
            r = wait(client, plan, &run, deadline, &mut stats, ui) => Some(r),
            _ = interrupt.recv() => None,
        };
        // After Ctrl-C the last state the waiter saw, else the run being waited for.
        let last = stats.last.take().unwrap_or_else(|| run.clone());
        let mut ended = match waited {
            None => interrupted(client, plan, last, &url, ui).await,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(WaitEnd::TimedOut(seen))) => {
                timed_out(client, plan, seen.unwrap_or(last), &url, ui).await
            }
            Some(Ok(WaitEnd::Finished(done))) => {
                let finished =
                    crate::cloud::verdict::finish_within(client, &plan.store, &done, deadline)
                        .await;
                // No retry once the deadline has passed: the verdict and its exit code stand.
                let in_time = deadline.is_none_or(|d| Instant::now() < d);
                let will_retry =
                    done.run_status() == RunStatus::Error && retried < plan.retries && in_time;
                print_finished(ui, &done, &finished, !will_retry);
                let mut ended = finished_report(&done, &finished);
                if will_retry {
                    let job = done.job().unwrap_or(plan.job_id);
                    match retries::plan(&done, finished.insight.as_ref()) {
                        Ok(rplan) => {
                            let started = start_retry(
                                client, job, &done, &rplan, &request, deadline, interrupt,
                            )
                            .await?;
                            retried += 1;
                            let adopted = if started.adopted {
                                " (found after a lost response; not started twice)"
                            } else {
                                ""
                            };
                            let line = format!(
                                "retry {retried}/{}: run {} → run {} {}{adopted}",
                                plan.retries,
                                done.id,
                                started.run.id,
                                rplan.describe()
                            );
                            // With --json the attempts are in the document; the line goes to stderr.
                            if ui.is_json() {
                                ui.status(line);
                            } else {
                                ui.out(line);
                            }
                            ended.report["retry"] = json!({
                                "plan": rplan,
                                "run_id": started.run.id,
                                "adopted": started.adopted,
                            });
                            attempts.push(ended.report);
                            if let retries::RetryRoute::Selected { steps_override } = &rplan.route {
                                request.steps_override = Some(steps_override.clone());
                            }
                            run = started.run;
                            continue;
                        }
                        Err(why) => {
                            ui.warn(format!("not retried: {why}"));
                            ended.report["not_retried"] = json!(why);
                        }
                    }
                }
                ended
            }
        };
        attempts.push(ended.report.clone());
        ended.report["attempts"] = Value::Array(attempts);
        return Ok(ended);
    }
}

pub(crate) fn url_of(client: &Client, run: &Run) -> String {
    run.href
        .clone()
        .unwrap_or_else(|| format!("{}/ (run {})", client.base_url(), run.id))
}

/// Start a retry within the deadline and until Ctrl-C.
async fn start_retry(
    client: &Client,
    job: i64,
    failed: &Run,
    rplan: &retries::RetryPlan,
    request: &TriggerRequest,
    deadline: Option<Instant>,
    interrupt: &mut Interrupt,
) -> Result<retries::RetryStarted, CliError> {
    let may_exist = format!(
        "check `datachonk cloud runs list --job-id {job}` before retrying run {} again",
        failed.id
    );
    let started = tokio::select! {
        r = within(deadline, retries::start(client, job, failed, rplan, request)) => r,
        _ = interrupt.recv() => return Err(CliError::new(
            crate::signals::stop_exit(),
            format!("interrupted while retrying run {}: a run may have been created", failed.id),
        ).with_hint(may_exist)),
    };
    let Some(started) = started else {
        return Err(CliError::new(
            Exit::Timeout,
            format!(
                "gave up at the deadline: dbt Cloud did not confirm the retry of run {} in time, \
                 so a run may have been created",
                failed.id
            ),
        )
        .with_hint(may_exist));
    };
    Ok(started?)
}

pub(crate) fn limit_text(plan: &RunPlan) -> String {
    plan.timeout
        .map(|t| humantime::format_duration(t).to_string())
        .unwrap_or_default()
}

/// The trigger, within the deadline and until Ctrl-C: the run it created.
pub(crate) async fn trigger(
    client: &Client,
    plan: &RunPlan,
    deadline: Option<Instant>,
    interrupt: &mut Interrupt,
    ui: &Ui,
) -> Result<Run, CliError> {
    let job = plan.job_id;
    let may_exist =
        format!("check `datachonk cloud runs list --job-id {job}` before triggering again");
    let triggered = tokio::select! {
        r = within(deadline, trigger_run(client, job, &plan.request)) => r,
        _ = interrupt.recv() => return Err(CliError::new(
            crate::signals::stop_exit(),
            format!("interrupted while triggering job {job}: a run may have been created"),
        ).with_hint(may_exist)),
    };
    let Some(triggered) = triggered else {
        return Err(CliError::new(
            Exit::Timeout,
            format!(
                "gave up after {}: dbt Cloud did not confirm the trigger of job {job} in time, \
                 so a run may have been created",
                limit_text(plan)
            ),
        )
        .with_hint(may_exist));
    };
    let triggered = triggered?;
    let adopted = if triggered.adopted {
        " (found after a lost response; not triggered twice)"
    } else {
        ""
    };
    client.debug(&format!("cause sent: {}", triggered.cause));
    let run = triggered.run;
    ui.status(format!("Triggered job {job} → run {}{adopted}", run.id));
    Ok(run)
}

/// Wait for the verdict within the deadline, after learning the job's typical duration
/// (a hint for the poll schedule, so it may take at most [`HISTORY_LIMIT`]).
async fn wait(
    client: &Client,
    plan: &RunPlan,
    run: &Run,
    deadline: Option<Instant>,
    stats: &mut WaitStats,
    ui: &Ui,
) -> Result<WaitEnd, crate::cloud::ApiError> {
    let history_by = earliest(deadline, Instant::now() + HISTORY_LIMIT);
    let expected = within(
        Some(history_by),
        wait::expected_running_time(client, plan.job_id),
    )
    .await
    .flatten();
    let options = WaitOptions {
        deadline,
        expected_running: expected,
        ..WaitOptions::default()
    };
    let mut on_event = |event: WaitEvent<'_>| print_event(ui, event);
    wait::wait_for_run(client, run.id, &options, stats, &mut on_event).await
}

/// Ctrl-C while waiting: leave the run, or cancel it (confirmed) with --cancel-on-interrupt.
async fn interrupted(client: &Client, plan: &RunPlan, last: Run, url: &str, ui: &Ui) -> Followed {
    let (last, cancelled) = if plan.cancel_on_interrupt {
        ui.status(format!(
            "Interrupted ({}): cancelling run {}…",
            crate::signals::name(),
            last.id
        ));
        cancel(client, ui, last, "interrupted").await
    } else {
        ui.status(format!(
            "Interrupted ({}): run {} keeps running ({url})",
            crate::signals::name(),
            last.id
        ));
        (last, false)
    };
    Followed {
        exit: crate::signals::stop_exit(),
        report: report_json("interrupted", &last, None, cancelled),
    }
}

/// The deadline passed while waiting: leave the run, or cancel it with --cancel-on-timeout.
async fn timed_out(client: &Client, plan: &RunPlan, last: Run, url: &str, ui: &Ui) -> Followed {
    let limit = limit_text(plan);
    let (last, cancelled) = if plan.cancel_on_timeout {
        let (last, cancelled) = cancel(client, ui, last, &format!("gave up after {limit}")).await;
        if cancelled {
            ui.status(format!("Gave up after {limit}: cancelled run {}", last.id));
        }
        (last, cancelled)
    } else {
        ui.status(format!(
            "Gave up waiting after {limit}; run {} is still {} (left running: {url})",
            last.id,
            last.run_status().label()
        ));
        (last, false)
    };
    if !ui.is_json() {
        let state = if cancelled {
            "cancelled".to_string()
        } else {
            format!("still {}", last.run_status().label())
        };
        ui.out(format!(
            "{} run {} {state} after {limit}",
            ui.warnish("TIMEOUT"),
            last.id
        ));
    }
    Followed {
        exit: Exit::Timeout,
        report: report_json("timeout", &last, None, cancelled),
    }
}

/// The exit status of a finished run.
pub fn exit_of(run: &Run) -> Exit {
    match run.run_status() {
        RunStatus::Success => Exit::Success,
        RunStatus::Error => Exit::RunError,
        _ => Exit::Cancelled,
    }
}

/// The `--json` document of a finished run: the verdict, its nodes and summary.
pub fn finished_report(done: &Run, finished: &Finished) -> Followed {
    let outcome = match done.run_status() {
        RunStatus::Success => "success",
        RunStatus::Error => "error",
        _ => "cancelled",
    };
    let mut report = report_json(outcome, done, finished.failure.as_ref(), false);
    if let Some(i) = &finished.insight {
        report["summary"] = json!(i.summary_line);
        report["nodes"] = super::cloud_insight::insight_json(i);
        if done.run_status() == RunStatus::Error {
            report["skipped_downstream"] = json!(i.skipped_downstream);
        }
    }
    if let Some(why) = &finished.insight_error {
        report["nodes_unavailable"] = json!(why);
    }
    if done.run_status() == RunStatus::Error {
        report["retry_command"] = json!(retry_command(done));
    }
    Followed {
        exit: exit_of(done),
        report,
    }
}

/// The command that retries an errored run from its point of failure.
pub fn retry_command(run: &Run) -> String {
    format!("datachonk cloud runs retry {} --wait", run.id)
}

/// The verdict, the node summary line and, on Error, the failing nodes, what they skipped
/// downstream and (with `retry_hint`) the command that retries it (human output only).
pub fn print_finished(ui: &Ui, done: &Run, finished: &Finished, retry_hint: bool) {
    print_finished_labelled(ui, done, finished, retry_hint, None);
}

/// [`print_finished`] with the run's label after its id (`run 7 (dev, job 1) in 3s`), for
/// verdicts of several runs.
pub fn print_finished_labelled(
    ui: &Ui,
    done: &Run,
    finished: &Finished,
    retry_hint: bool,
    label: Option<&str>,
) {
    if ui.is_json() {
        return;
    }
    print_verdict(ui, done, finished.failure.as_ref(), label);
    if crate::cloud::verdict::skipped_at_deadline(finished) {
        ui.out(format!("  {}", crate::cloud::verdict::SKIPPED_AT_DEADLINE));
    } else if let Some(why) = &finished.insight_error {
        ui.out(format!("  nodes: not available ({why})"));
    }
    if let Some(i) = &finished.insight {
        ui.out(format!("  nodes: {}", i.summary_line));
        if done.run_status() == RunStatus::Error && !i.skipped_downstream.is_empty() {
            let n = i.skipped_downstream.len();
            ui.out(format!("  skipped downstream of the failures ({n}):"));
            for id in &i.skipped_downstream {
                ui.out(format!("    {id}"));
            }
        }
    }
    if retry_hint && done.run_status() == RunStatus::Error {
        ui.out(format!("  retry it: {}", retry_command(done)));
    }
}

/// Cancel `last`'s run within [`CANCEL_BUDGET`]: the state the API confirmed, and whether
/// it is Cancelled (a verdict may have come first).
pub(crate) async fn cancel(client: &Client, ui: &Ui, last: Run, why: &str) -> (Run, bool) {
    let id = last.id;
    match tokio::time::timeout(CANCEL_BUDGET, cancel_and_confirm(client, id)).await {
        Ok(Ok(run)) => {
            let cancelled = run.run_status() == RunStatus::Cancelled;
            if !cancelled {
                ui.warn(format!(
                    "{why}; run {id} ended {} before it could be cancelled",
                    run.run_status().label()
                ));
            }
            (run, cancelled)
        }
        Ok(Err(e)) => {
            ui.warn(format!("{why}, and cancelling run {id} failed: {e}"));
            (last, false)
        }
        Err(_) => {
            ui.warn(format!(
                "{why}, and dbt Cloud did not confirm the cancellation of run {id} within {}s",
                CANCEL_BUDGET.as_secs()
            ));
            (last, false)
        }
    }
}

/// `fut`, or `None` once `deadline` passes (no deadline: `fut`).
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d.into(), fut).await.ok(),
        None => Some(fut.await),
    }
}

pub(crate) fn earliest(deadline: Option<Instant>, other: Instant) -> Instant {
    deadline.map_or(other, |d| d.min(other))
}

pub use crate::signals::Interrupt;

fn print_event(ui: &Ui, event: WaitEvent<'_>) {
    match event {
        WaitEvent::Status(run) => {
            ui.status(format!("run {}: {}", run.id, run.run_status().label()))
        }
        WaitEvent::Step(step) => {
            let status = step.run_status();
            let name = step.name.as_deref().unwrap_or("step");
            let index = step.index.unwrap_or(0);
            let took = match step.elapsed_seconds() {
                Some(secs) if status.is_terminal() => format!(" ({})", seconds_text(secs)),
                _ => String::new(),
            };
            let label = match status {
                RunStatus::Success => ui.good("ok"),
                RunStatus::Error => ui.bad("error"),
                RunStatus::Cancelled => ui.warnish("cancelled"),
                other => other.label().to_ascii_lowercase(),
            };
            ui.status(format!("  step {index} {name}: {label}{took}"));
        }
    }
}

fn duration_text(run: &Run) -> String {
    run.elapsed_seconds()
        .map(seconds_text)
        .or_else(|| run.duration_humanized.clone())
        .unwrap_or_else(|| "?".into())
}

/// `0.4s`, `12s`, `3m 05s`, `1h 02m`.
fn seconds_text(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{s:.0}s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s as u64) % 60)
    } else {
        format!("{}h {:02}m", (s / 3600.0) as u64, ((s as u64) % 3600) / 60)
    }
}

fn print_verdict(ui: &Ui, run: &Run, failure: Option<&FailureReport>, label: Option<&str>) {
    let status = run.run_status();
    let word = match status {
        RunStatus::Success => ui.good("SUCCESS"),
        RunStatus::Error => ui.bad("ERROR"),
        _ => ui.warnish("CANCELLED"),
    };
    let label = label.map(|l| format!(" ({l})")).unwrap_or_default();
    ui.out(format!(
        "{word} run {}{label} in {}",
        run.id,
        duration_text(run)
    ));
    if let Some(href) = &run.href {
        ui.out(format!("  {href}"));
    }
    if let Some(msg) = run.status_message.as_deref().filter(|m| !m.is_empty()) {
        if status != RunStatus::Success {
            ui.out(format!("  {msg}"));
        }
    }
    if let Some(f) = failure {
        if let Some(name) = &f.step_name {
            ui.out(format!(
                "  failing step {}: {name}",
                f.step_index.unwrap_or(0)
            ));
        }
        if !f.nodes.is_empty() {
            ui.out(format!("  failing nodes ({}):", f.nodes.len()));
            for node in &f.nodes {
                ui.out(format!(
                    "    {} [{}]",
                    ui.bold(&node.unique_id),
                    node.status
                ));
                for line in node.message.as_deref().unwrap_or_default().lines() {
                    ui.out(format!("      {line}"));
                }
            }
        } else if let Some(why) = &f.nodes_unavailable {
            ui.out(format!("  ({why})"));
        }
        if !f.log_tail.is_empty() {
            ui.out("  log tail:");
            for line in &f.log_tail {
                ui.out(format!("    | {line}"));
            }
        }
    }
}

/// The `--json` document (schema in `dbt-run --help`).
pub fn report_json(
    outcome: &str,
    run: &Run,
    failure: Option<&FailureReport>,
    cancelled_by_us: bool,
) -> Value {
    let steps: Vec<Value> = run
        .steps()
        .iter()
        .map(|s| json!({ "index": s.index, "name": s.name, "status": s.run_status() }))
        .collect();
    json!({
        "outcome": outcome,
        "run": {
            "id": run.id,
            "status": run.status,
            "status_humanized": run.status_humanized.clone().unwrap_or_else(|| run.run_status().label().into()),
            "href": run.href,
            "job_id": run.job(),
            "git_sha": run.git_sha,
            "git_branch": run.git_branch,
            "duration_seconds": run.elapsed_seconds(),
            "steps": steps,
        },
        "failure": failure,
        "cancelled_by_datachonk": cancelled_by_us,
    })
}
