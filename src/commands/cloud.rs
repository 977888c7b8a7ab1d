//! `datachonk cloud …`: look at the connection, jobs, runs and artifacts. `runs` (retry,
//! wait) and `insight` (nodes, lineage, freshness, artifacts) are its parts.

pub mod insight;
pub mod runs;
pub mod table;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::cli::{ArtifactsCommand, CloudCommand, ConnectionArgs, GlobalArgs, RunsCommand};
use crate::cloud::marker::RunMarker;
use crate::cloud::{Client, Run, RunQuery, RunStatus};
use crate::commands::reporters::verdict_lines::seconds_text;
use crate::config::{Config, FlagValues};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

use super::connect;

pub fn run(global: &GlobalArgs, cmd: CloudCommand, ui: &Ui) -> CmdResult {
    let (connection, extra) = flags_of(&cmd);
    if let CloudCommand::Artifacts(ArtifactsCommand::Get(a)) = &cmd {
        // Refused before anything is sent: `..` would climb out of the run's artifacts.
        crate::cloud::client::artifact_path(&a.path).map_err(CliError::usage)?;
    }
    let cfg = load(global, connection, extra)?;
    let client = connect::client(&cfg, ui)?;
    let rt = crate::commands::edge::runtime()?;
    let result = rt.block_on(dispatch(global, cmd, &client, &cfg, ui));
    rt.shutdown_background();
    result
}

/// The connection flags of the subcommand, and the settings it adds to them.
fn flags_of(cmd: &CloudCommand) -> (&ConnectionArgs, FlagValues) {
    match cmd {
        CloudCommand::Status(a) => (&a.connection, FlagValues::default()),
        CloudCommand::Jobs(a) => (
            &a.connection,
            FlagValues {
                project_id: a.project_id,
                ..FlagValues::default()
            },
        ),
        CloudCommand::Runs(RunsCommand::List(a)) => (
            &a.connection,
            FlagValues {
                job_id: a.job_id,
                ..FlagValues::default()
            },
        ),
        CloudCommand::Runs(RunsCommand::Show(a)) => (&a.connection, FlagValues::default()),
        CloudCommand::Runs(RunsCommand::Cancel(a)) => (&a.connection, FlagValues::default()),
        CloudCommand::Runs(RunsCommand::Retry(a)) => (
            &a.connection,
            FlagValues {
                timeout: a.timeout.clone(),
                ..FlagValues::default()
            },
        ),
        CloudCommand::Runs(RunsCommand::Wait(a)) => (
            &a.connection,
            FlagValues {
                timeout: a.timeout.clone(),
                ..FlagValues::default()
            },
        ),
        CloudCommand::Artifacts(ArtifactsCommand::Get(a)) => (&a.connection, FlagValues::default()),
        CloudCommand::Artifacts(ArtifactsCommand::List(a)) => {
            (&a.connection, FlagValues::default())
        }
        CloudCommand::Lineage(a) => (
            &a.connection,
            FlagValues {
                job_id: a.job_id,
                ..FlagValues::default()
            },
        ),
        CloudCommand::Freshness(a) => (
            &a.connection,
            FlagValues {
                job_id: a.job_id,
                ..FlagValues::default()
            },
        ),
    }
}

async fn dispatch(
    global: &GlobalArgs,
    cmd: CloudCommand,
    client: &Client,
    cfg: &Config,
    ui: &Ui,
) -> CmdResult {
    match cmd {
        CloudCommand::Status(_) => status(client, cfg, ui).await,
        CloudCommand::Jobs(_) => jobs(client, cfg, ui).await,
        CloudCommand::Runs(RunsCommand::List(a)) => {
            let query = runs_query(client, cfg, &a).await?;
            runs_list(client, &query, ui).await
        }
        CloudCommand::Runs(RunsCommand::Show(a)) => {
            let show = ShowWhat {
                logs: a.logs,
                nodes: a.nodes,
                junit: a.junit.as_deref(),
            };
            run_show(client, cfg, a.run_id, &show, ui).await
        }
        CloudCommand::Runs(RunsCommand::Cancel(a)) => {
            let run = client.cancel_run(a.run_id).await?;
            print_run_line(ui, &run, "cancel requested");
            Ok(Exit::Success)
        }
        CloudCommand::Runs(RunsCommand::Retry(a)) => {
            let gate = |job: i64| connect::confirm_job(global, cfg, Some(job), a.yes, "the retry");
            runs::retry(client, cfg, a.run_id, a.wait, &gate, ui).await
        }
        CloudCommand::Runs(RunsCommand::Wait(a)) => {
            let outputs = crate::commands::reporters::outputs::VerdictOutputs {
                junit: a.junit.as_deref(),
                pr_comment: a.pr_comment,
            };
            runs::wait(client, cfg, &a.run_ids, ui, &outputs).await
        }
        CloudCommand::Artifacts(ArtifactsCommand::Get(a)) => {
            insight::artifacts_get(client, &a, ui).await
        }
        CloudCommand::Artifacts(ArtifactsCommand::List(a)) => {
            insight::artifacts_list(client, a.run_id, a.step, ui).await
        }
        CloudCommand::Lineage(a) => insight::lineage(client, cfg, &a, ui).await,
        CloudCommand::Freshness(a) => insight::freshness(client, cfg, &a, ui).await,
    }
}

/// `runs list`'s query: `--status` (comma lists too), the job by id or name, newest first.
async fn runs_query(
    client: &Client,
    cfg: &Config,
    a: &crate::cli::RunsListArgs,
) -> Result<RunQuery, CliError> {
    let mut status_in = Vec::new();
    for s in &a.status {
        for part in s.split(',') {
            status_in.push(RunStatus::parse(part.trim()).ok_or_else(|| {
                CliError::usage(format!(
                    "--status {part}: expected queued, starting, running, success, error or cancelled"
                ))
            })?);
        }
    }
    let job_id = match &a.job {
        Some(spec) => Some(connect::resolve_job(client, cfg, spec).await?),
        None => a.job_id,
    };
    Ok(RunQuery {
        job_id,
        status_in,
        order_by: Some("-id".into()),
        limit: a.limit.max(1),
        include_related: vec!["trigger".into()],
        ..RunQuery::default()
    })
}

fn load(
    global: &GlobalArgs,
    connection: &ConnectionArgs,
    extra: FlagValues,
) -> Result<Config, CliError> {
    let base = connect::connection_flags(connection);
    connect::load(
        global,
        &FlagValues {
            project_id: extra.project_id,
            job_id: extra.job_id,
            timeout: extra.timeout,
            ..base
        },
    )
}

async fn status(client: &Client, cfg: &Config, ui: &Ui) -> CmdResult {
    let account = client.get_account().await?;
    let projects = client.list_projects().await?;
    if ui.is_json() {
        ui.json(&json!({
            "access_url": client.base_url(),
            "token_valid": true,
            "account": { "id": account.id, "name": account.name, "plan": account.plan },
            "projects": projects.iter().map(|p| json!({"id": p.id, "name": p.name})).collect::<Vec<_>>(),
        }));
        return Ok(Exit::Success);
    }
    let token_from = cfg
        .dbt_cloud
        .token
        .as_ref()
        .map(|t| t.source.to_string())
        .unwrap_or_default();
    ui.out(format!(
        "{} connected to {} (token from {token_from})",
        ui.good("ok"),
        client.base_url()
    ));
    ui.out(format!(
        "account {}: {}{}",
        account.id.unwrap_or(client.account_id()),
        account.name.as_deref().unwrap_or("(unnamed)"),
        account
            .plan
            .as_deref()
            .map(|p| format!(" ({p} plan)"))
            .unwrap_or_default()
    ));
    ui.out(format!("projects ({}):", projects.len()));
    for p in &projects {
        ui.out(format!(
            "  {:>14}  {}",
            p.id.unwrap_or_default(),
            p.name.as_deref().unwrap_or("")
        ));
    }
    Ok(Exit::Success)
}

async fn jobs(client: &Client, cfg: &Config, ui: &Ui) -> CmdResult {
    let project = cfg.dbt_cloud.project_id.as_ref().map(|p| p.value);
    let jobs = client.list_jobs(project, None).await?;
    if ui.is_json() {
        let list: Vec<Value> = jobs
            .iter()
            .map(|j| {
                json!({"id": j.id, "name": j.name, "project_id": j.project_id, "environment_id": j.environment_id,
                       "job_type": j.job_type, "execute_steps": j.execute_steps})
            })
            .collect();
        ui.json(&json!({ "jobs": list }));
        return Ok(Exit::Success);
    }
    if jobs.is_empty() {
        ui.out("no jobs");
    }
    for j in &jobs {
        ui.out(format!(
            "{:>14}  {}  {}",
            j.id.unwrap_or_default(),
            ui.bold(j.name.as_deref().unwrap_or("(unnamed)")),
            ui.dim(&format!(
                "project {} · environment {}",
                j.project_id.unwrap_or_default(),
                j.environment_id.unwrap_or_default()
            ))
        ));
        for step in j.execute_steps.as_deref().unwrap_or_default() {
            ui.out(format!("{:>14}  $ {step}", ""));
        }
    }
    Ok(Exit::Success)
}

async fn runs_list(client: &Client, query: &RunQuery, ui: &Ui) -> CmdResult {
    let runs = client.list_runs(query).await?;
    if ui.is_json() {
        let list: Vec<Value> = runs.iter().map(run_json).collect();
        ui.json(&json!({ "runs": list }));
        return Ok(Exit::Success);
    }
    if runs.is_empty() {
        ui.out("no runs");
        return Ok(Exit::Success);
    }
    let names = job_names(client, query.job_id).await;
    let rows: Vec<Vec<table::Cell>> = runs.iter().map(|r| run_row(r, &names)).collect();
    let header = ["RUN", "STATUS", "JOB", "CREATED", "DURATION", "CAUSE"];
    for line in table::lines(ui, "", Some(&header), &rows) {
        ui.out(line);
    }
    Ok(Exit::Success)
}

/// Job id → name, from one look-up for the whole listing (the one job when the listing is
/// filtered to it). A failed look-up costs only the names: the ids are still shown.
async fn job_names(client: &Client, job_id: Option<i64>) -> BTreeMap<i64, String> {
    let jobs = match job_id {
        Some(id) => client.get_job(id).await.map(|j| vec![j]),
        None => client.list_jobs(None, None).await,
    };
    jobs.unwrap_or_default()
        .into_iter()
        .filter_map(|j| Some((j.id?, j.name?)))
        .collect()
}

/// One run of `runs list`: id, status, job (id and name), created, duration, cause.
fn run_row(r: &Run, names: &BTreeMap<i64, String>) -> Vec<table::Cell> {
    use table::{Cell, Paint};
    let job = match r.job() {
        Some(id) => match names.get(&id) {
            Some(name) => format!("{id} {name}"),
            None => id.to_string(),
        },
        None => "-".into(),
    };
    let duration = if r.run_status().is_terminal() {
        r.elapsed_seconds().map_or_else(|| "-".into(), seconds_text)
    } else {
        "-".into()
    };
    let cause = r
        .trigger
        .as_ref()
        .and_then(|t| t.cause.as_deref())
        .map(|c| RunMarker::strip(c).to_string())
        .unwrap_or_default();
    vec![
        Cell::new(r.id.to_string()).right(),
        Cell::new(r.run_status().label()).paint(status_paint(r.run_status())),
        Cell::new(job),
        Cell::new(
            r.created_at
                .map(|t| t.0.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::new(duration).right(),
        Cell::new(cause).paint(Paint::Dim),
    ]
}

fn status_paint(s: RunStatus) -> table::Paint {
    match s {
        RunStatus::Success => table::Paint::Good,
        RunStatus::Error => table::Paint::Bad,
        RunStatus::Cancelled => table::Paint::Warn,
        _ => table::Paint::Plain,
    }
}

/// What `runs show` adds to the run: step logs, nodes, a JUnit report.
struct ShowWhat<'a> {
    logs: bool,
    nodes: bool,
    junit: Option<&'a std::path::Path>,
}

async fn run_show(
    client: &Client,
    cfg: &Config,
    run_id: i64,
    show: &ShowWhat<'_>,
    ui: &Ui,
) -> CmdResult {
    let (logs, nodes) = (show.logs, show.nodes);
    let run = client
        .get_run(run_id, &["run_steps", "job", "trigger"])
        .await?;
    if let Some(path) = show.junit {
        runs::write_junit(client, cfg, &run, path).await?;
    }
    // Nodes come from artifacts: always in --json, on request for people.
    let insight = if nodes || ui.is_json() {
        Some(insight::gather(client, cfg, &run).await?)
    } else {
        None
    };
    if ui.is_json() {
        ui.json_object(show_json(&run, insight.as_ref(), logs));
        return Ok(Exit::Success);
    }
    print_run(ui, &run, logs);
    if let Some(i) = &insight {
        insight::print_nodes(ui, i);
    }
    Ok(Exit::Success)
}

/// `runs show --json`: the run, its steps (with logs when asked) and its nodes. The nodes are
/// serialized from the insight itself: a large run's nodes are not copied into a Value.
fn show_json<'a>(
    run: &Run,
    insight: Option<&'a crate::cloud::insight::RunInsight>,
    logs: bool,
) -> crate::ui::Object<&'a crate::cloud::insight::RunInsight> {
    let mut v = run_json(run);
    v["steps"] = run
            .steps()
            .iter()
            .map(|s| {
                json!({"index": s.index, "name": s.name, "status": s.run_status(),
                       "duration_seconds": s.elapsed_seconds(), "logs": if logs { s.logs.clone() } else { None }})
            })
            .collect();
    let mut doc = crate::ui::Object::of(v);
    if let Some(insight) = insight {
        doc.set_large("nodes", insight);
    }
    doc
}

/// `runs show` for people: status, link, job, cause, commit, duration, message and steps.
fn print_run(ui: &Ui, run: &Run, logs: bool) {
    let status = run.run_status();
    ui.out(format!(
        "run {}  {}",
        run.id,
        table::painted(ui, status.label(), status_paint(status))
    ));
    if let Some(href) = &run.href {
        ui.out(format!("  {href}"));
    }
    let job_name = run
        .job
        .as_ref()
        .and_then(|j| j.name.clone())
        .unwrap_or_default();
    ui.out(format!(
        "  job       {} {job_name}",
        run.job().unwrap_or_default()
    ));
    if let Some(cause) = run.trigger.as_ref().and_then(|t| t.cause.as_deref()) {
        // The look-up marker is for datachonk, not for people (`--json` keeps it).
        ui.out(format!("  cause     {}", RunMarker::strip(cause)));
    }
    if run.git_sha.is_some() || run.git_branch.is_some() {
        // `branch @ sha` as the cause says it, without a gap for the part not known.
        let parts: Vec<&str> = [run.git_branch.as_deref(), run.git_sha.as_deref()]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
            .collect();
        ui.out(format!("  git       {}", parts.join(" @ ")));
    }
    if let Some(d) = run.elapsed_seconds() {
        ui.out(format!("  duration  {d:.1}s"));
    }
    if let Some(m) = run.status_message.as_deref().filter(|m| !m.is_empty()) {
        ui.out(format!("  message   {m}"));
    }
    for s in run.steps() {
        ui.out(format!(
            "  step {:<2} {:<9} {}{}",
            s.index.unwrap_or_default(),
            status_word(ui, s.run_status()),
            s.name.as_deref().unwrap_or(""),
            s.elapsed_seconds()
                .map(|d| format!(" ({d:.1}s)"))
                .unwrap_or_default()
        ));
        if logs {
            for line in s.logs.as_deref().unwrap_or_default().lines() {
                ui.out(format!("      | {line}"));
            }
        }
    }
}

fn run_json(r: &Run) -> Value {
    json!({
        "id": r.id, "status": r.status, "status_humanized": r.run_status().label(), "job_id": r.job(),
        "href": r.href, "git_sha": r.git_sha, "git_branch": r.git_branch,
        "cause": r.trigger.as_ref().and_then(|t| t.cause.clone()),
        "created_at": r.created_at.map(|t| t.0.to_rfc3339()), "finished_at": r.finished_at.map(|t| t.0.to_rfc3339()),
        "duration_seconds": r.elapsed_seconds(),
        "can_retry": r.can_retry, "retry_not_supported_reason": r.retry_not_supported_reason,
        "retrying_run_id": r.retrying_run_id,
    })
}

fn print_run_line(ui: &Ui, run: &Run, what: &str) {
    if ui.is_json() {
        ui.json(&run_json(run));
    } else {
        ui.out(format!(
            "run {} {}: {}{}",
            run.id,
            what,
            status_word(ui, run.run_status()),
            run.href
                .as_deref()
                .map(|h| format!("  {h}"))
                .unwrap_or_default()
        ));
    }
}

fn status_word(ui: &Ui, s: RunStatus) -> String {
    let word = format!("{:<9}", s.label());
    match s {
        RunStatus::Success => ui.good(&word),
        RunStatus::Error => ui.bad(&word),
        RunStatus::Cancelled => ui.warnish(&word),
        _ => word,
    }
}
