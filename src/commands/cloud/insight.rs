//! `datachonk cloud runs show --nodes`, `cloud lineage`, `cloud freshness`, `cloud artifacts
//! list|get`: what a run did, read from its artifacts (the work is in `cloud::insight`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::cli::{ArtifactGetArgs, FreshnessArgs, LineageArgs, LineageFormat};
use crate::cloud::insight::budget::Budget;
use crate::cloud::insight::freshness::{self, TableFreshness};
use crate::cloud::insight::lineage::{self, FindError};
use crate::cloud::insight::manifest::Manifest;
use crate::cloud::insight::nodes::NodeOutcome;
use crate::cloud::insight::{self, ArtifactStore, RunInsight};
use crate::cloud::{ApiError, Client, Run, RunQuery, RunStatus};
use crate::config::Config;
use crate::deploy::store_for;
use crate::error::{CliError, CmdResult, Exit};
use crate::fsx::write_atomic;
use crate::ui::Ui;

const RUN_RELATED: &[&str] = &["run_steps", "job", "trigger"];

/// The run's nodes, as `runs show --nodes` prints them: per dbt step, one aligned row per
/// node (status, type, name, time, rows), its message under it; then the summary, where a
/// node run in two steps counts once.
pub fn print_nodes(ui: &Ui, insight: &RunInsight) {
    use super::table::{self, Widths};
    if let Some(note) = &insight.note {
        ui.out(format!("  {note}"));
    }
    // One set of widths for every step, so the columns line up across steps; rows are made
    // as they are printed (a big run's nodes are not copied into a table first).
    let mut widths = Widths::default();
    for n in insight.nodes() {
        widths.fit(&node_row(n));
    }
    for step in &insight.steps {
        ui.out(format!("  step {} {}", step.index, ui.dim(&step.name)));
        if let Some(why) = &step.unavailable {
            ui.out(format!("      {}", ui.dim(why)));
        }
        for n in &step.nodes {
            ui.out(table::line(ui, "      ", &node_row(n), &widths));
            if let Some(m) = &n.message {
                for line in m.lines().take(5) {
                    ui.out(format!("          {}", ui.dim(line)));
                }
            }
        }
    }
    if !insight.steps.is_empty() {
        ui.out(format!("  nodes     {}", insight.summary_line));
    }
}

/// A node's row: status, type, name, time, rows.
fn node_row(n: &NodeOutcome) -> Vec<super::table::Cell> {
    use super::table::{Cell, Paint};
    vec![
        Cell::new(&n.status).paint(node_paint(&n.status)),
        Cell::new(&n.resource_type),
        Cell::new(&n.name),
        Cell::new(format!("{:.2}s", n.execution_time))
            .paint(Paint::Dim)
            .right(),
        Cell::new(
            n.rows_affected
                .map(|r| format!("{r} rows"))
                .unwrap_or_default(),
        )
        .right(),
    ]
}

/// A freshness status padded to one width, coloured.
fn node_status(ui: &Ui, status: &str) -> String {
    let word = format!("{status:<9}");
    match status {
        "success" | "pass" => ui.good(&word),
        "error" | "fail" | "runtime error" => ui.bad(&word),
        "warn" => ui.warnish(&word),
        _ => word,
    }
}

fn node_paint(status: &str) -> super::table::Paint {
    use super::table::Paint;
    match status {
        "success" | "pass" => Paint::Good,
        "error" | "fail" | "runtime error" => Paint::Bad,
        "warn" => Paint::Warn,
        _ => Paint::Plain,
    }
}

/// `runs show` with the run's nodes gathered (cached artifacts when the run is finished).
pub async fn gather(client: &Client, cfg: &Config, run: &Run) -> Result<RunInsight, ApiError> {
    insight::gather(client, &store_for(cfg), run).await
}

/// The latest successful run of `job_id`, with its steps.
async fn latest_success(client: &Client, job_id: i64) -> Result<Option<Run>, ApiError> {
    let query = RunQuery {
        job_id: Some(job_id),
        status_in: vec![RunStatus::Success],
        order_by: Some("-id".into()),
        limit: 1,
        ..RunQuery::default()
    };
    match client.list_runs(&query).await?.first() {
        Some(r) => Ok(Some(client.get_run(r.id, RUN_RELATED).await?)),
        None => Ok(None),
    }
}

fn job_of(cfg: &Config, flag: Option<i64>) -> Option<i64> {
    flag.or(cfg.dbt_cloud.job_id.as_ref().map(|j| j.value))
}

pub async fn lineage(client: &Client, cfg: &Config, args: &LineageArgs, ui: &Ui) -> CmdResult {
    let run = lineage_run(client, cfg, args).await?;
    let store = store_for(cfg);
    let manifest = manifest_of(client, &store, &run).await?;
    let focus = focus_of(&manifest, args, &run)?;
    let statuses = run_statuses(client, &store, &run).await?;
    let picture = lineage::lineage(&manifest, &focus, args.depth, &statuses);
    if ui.is_json() {
        let mut v = serde_json::to_value(&picture).unwrap_or(Value::Null);
        v["run_id"] = json!(run.id);
        v["mermaid"] = json!(picture.mermaid());
        ui.json(&v);
        return Ok(Exit::Success);
    }
    let text = match args.format {
        LineageFormat::Text => {
            ui.status(format!("lineage of {focus} (run {})", run.id));
            picture.text()
        }
        LineageFormat::Mermaid => picture.mermaid(),
        LineageFormat::Markdown => picture.markdown(),
        LineageFormat::Dot => picture.dot(),
    };
    for line in text.lines() {
        ui.out(line);
    }
    Ok(Exit::Success)
}

/// The run whose manifest is read: `--run`, else the job's latest success.
async fn lineage_run(client: &Client, cfg: &Config, args: &LineageArgs) -> Result<Run, CliError> {
    Ok(match args.run {
        Some(id) => client.get_run(id, RUN_RELATED).await?,
        None => {
            let flag = match &args.job {
                Some(spec) => Some(crate::commands::connect::resolve_job(client, cfg, spec).await?),
                None => args.job_id,
            };
            let job = job_of(cfg, flag).ok_or_else(|| {
                CliError::usage("which run's manifest? pass --run RUN or --job-id JOB")
                    .with_hint("or set deploy.dbt_cloud.job_id / DBT_CLOUD_JOB_ID")
            })?;
            latest_success(client, job).await?.ok_or_else(|| {
                CliError::new(
                    Exit::Api,
                    format!("job {job} has no successful run to read a manifest from"),
                )
                .with_hint("pass --run RUN to read the manifest of another run")
            })?
        }
    })
}

/// The manifest of the last dbt step of `run` that wrote one.
async fn manifest_of(
    client: &Client,
    store: &ArtifactStore,
    run: &Run,
) -> Result<Manifest, CliError> {
    let steps = insight::dbt_steps(run);
    let mut manifest = None;
    for (index, _) in steps.iter().rev() {
        // Read as it arrives (node bodies skipped), never whole; lineage needs every node.
        let read = |r: &mut dyn std::io::Read| Manifest::read(r, &Budget::new(usize::MAX));
        if let Some(parsed) = store
            .read(client, run, Some(*index), "manifest.json", read)
            .await?
        {
            manifest = Some(parsed.map_err(|e| {
                CliError::new(
                    Exit::Api,
                    format!("manifest.json of run {} is unreadable: {e}", run.id),
                )
            })?);
            break;
        }
    }
    manifest.ok_or_else(|| {
        CliError::new(
            Exit::Api,
            format!(
                "run {} saved no manifest.json (no dbt step wrote one)",
                run.id
            ),
        )
    })
}

/// The node `args.node` names in the manifest (a "did you mean" when none does).
fn focus_of(manifest: &Manifest, args: &LineageArgs, run: &Run) -> Result<String, CliError> {
    lineage::find(manifest, &args.node).map_err(|e| match e {
        FindError::NotFound { suggestions } => {
            let err = CliError::usage(format!(
                "no node named `{}` in the manifest of run {}",
                args.node, run.id
            ));
            match suggestions.as_slice() {
                [] => {
                    err.with_hint("name a model, seed, snapshot, test, SOURCE.TABLE or a unique id")
                }
                s => err.with_hint(format!("did you mean {}?", s.join(", "))),
            }
        }
        FindError::Ambiguous { candidates } => CliError::usage(format!(
            "`{}` names {} nodes: {}",
            args.node,
            candidates.len(),
            candidates.join(", ")
        ))
        .with_hint("pass the unique id, or TYPE:NAME"),
    })
}

/// unique id → the node's status in the last dbt step that ran it.
async fn run_statuses(
    client: &Client,
    store: &ArtifactStore,
    run: &Run,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut statuses = BTreeMap::new();
    if !run.run_status().is_terminal() {
        return Ok(statuses);
    }
    for (index, _) in insight::dbt_steps(run) {
        let read = |r: &mut dyn std::io::Read| {
            insight::nodes::read_run_results(r, None, &Budget::new(usize::MAX))
        };
        // A step without results, or unreadable ones, leaves its nodes without a status.
        if let Some(Ok(nodes)) = store
            .read(client, run, Some(index), "run_results.json", read)
            .await?
        {
            for n in nodes {
                statuses.insert(n.unique_id, n.status);
            }
        }
    }
    Ok(statuses)
}

/// The step of `run` that wrote `sources.json`: the `dbt source freshness` step.
fn freshness_step(run: &Run) -> Option<i64> {
    run.steps()
        .iter()
        .filter(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.contains("source freshness"))
        })
        .filter_map(|s| s.index)
        .next_back()
}

pub async fn freshness(client: &Client, cfg: &Config, args: &FreshnessArgs, ui: &Ui) -> CmdResult {
    let store = store_for(cfg);
    let flag = match &args.job {
        Some(spec) => Some(crate::commands::connect::resolve_job(client, cfg, spec).await?),
        None => args.job_id,
    };
    let job = job_of(cfg, flag);
    let (run, step) = freshness_run(client, args.run, job).await?;
    let Some(bytes) = store.get(client, &run, step, "sources.json").await? else {
        return Err(CliError::new(
            Exit::Api,
            format!("run {} has no freshness results (no sources.json)", run.id),
        )
        .with_hint("freshness comes from a job with \"Run source freshness\" on, or a `dbt source freshness` step"));
    };
    let tables = freshness::from_sources_json(&bytes, None).map_err(|e| {
        CliError::new(
            Exit::Api,
            format!("sources.json of run {} is unreadable: {e}", run.id),
        )
    })?;
    let stale = tables.iter().filter(|t| t.is_error()).count();
    let exit = if stale > 0 {
        Exit::RunError
    } else {
        Exit::Success
    };
    if ui.is_json() {
        ui.json(&json!({
            "run_id": run.id,
            "step": step,
            "outcome": if stale > 0 { "stale" } else { "fresh" },
            "tables": tables,
        }));
        return Ok(exit);
    }
    ui.out(format!(
        "source freshness from run {}{}",
        run.id,
        run.finished_at
            .map(|t| format!(" ({})", t.0.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default()
    ));
    for t in &tables {
        print_table(ui, t);
    }
    let count = |s: &str| tables.iter().filter(|t| t.status == s).count();
    ui.out(format!(
        "{} pass · {} warn · {} error · {} runtime error",
        count("pass"),
        count("warn"),
        count("error"),
        count("runtime error")
    ));
    Ok(exit)
}

/// The run to read freshness from and its freshness step: `--run`, else the job's latest
/// finished run that checked freshness.
async fn freshness_run(
    client: &Client,
    run_id: Option<i64>,
    job: Option<i64>,
) -> Result<(Run, Option<i64>), CliError> {
    Ok(match run_id {
        Some(id) => {
            let run = client.get_run(id, RUN_RELATED).await?;
            let step = freshness_step(&run);
            (run, step)
        }
        None => {
            let query = RunQuery {
                job_id: job,
                status_in: vec![RunStatus::Success, RunStatus::Error],
                order_by: Some("-id".into()),
                limit: 30,
                ..RunQuery::default()
            };
            let mut found = None;
            for r in client.list_runs(&query).await? {
                if r.has_sources_generated == Some(false) {
                    continue;
                }
                let run = client.get_run(r.id, RUN_RELATED).await?;
                if let Some(step) = freshness_step(&run) {
                    found = Some((run, Some(step)));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => return Err(no_freshness_runs(client, job).await),
            }
        }
    })
}

fn print_table(ui: &Ui, t: &TableFreshness) {
    let age = t
        .age_seconds
        .map(|s| format!("{} old", freshness::age_text(s)))
        .unwrap_or_else(|| "age unknown".into());
    let loaded = t
        .max_loaded_at
        .as_deref()
        .map(|m| format!(", last loaded {m}"))
        .unwrap_or_default();
    ui.out(format!(
        "  {} {}  {}{loaded}",
        node_status(ui, &t.status),
        t.name,
        ui.dim(&age)
    ));
    if let Some(c) = &t.criteria {
        ui.out(format!("              {}", ui.dim(c)));
    }
    if let Some(e) = &t.error {
        ui.out(format!("              {}", ui.dim(e)));
    }
}

/// Exit 6 saying which jobs could produce freshness results.
async fn no_freshness_runs(client: &Client, job: Option<i64>) -> CliError {
    let where_ = match job {
        Some(j) => format!("job {j}"),
        None => "the account".to_string(),
    };
    let err = CliError::new(
        Exit::Api,
        format!("no recent run of {where_} has source freshness results"),
    );
    let jobs = client.list_jobs(None, None).await.unwrap_or_default();
    let able: Vec<String> = jobs
        .iter()
        .filter(|j| {
            j.run_generate_sources == Some(true)
                || j.execute_steps
                    .iter()
                    .flatten()
                    .any(|s| s.contains("source freshness"))
        })
        .map(|j| {
            format!(
                "{} ({})",
                j.id.unwrap_or_default(),
                j.name.as_deref().unwrap_or("")
            )
        })
        .collect();
    if able.is_empty() {
        err.with_hint("no job checks freshness: turn on \"Run source freshness\" for a job, or add a `dbt source freshness` step")
    } else {
        err.with_hint(format!(
            "jobs that check freshness: {}; pass --job-id with one of them",
            able.join(", ")
        ))
    }
}

pub async fn artifacts_list(client: &Client, run_id: i64, step: Option<i64>, ui: &Ui) -> CmdResult {
    let paths = client.list_artifacts(run_id, step).await?;
    if ui.is_json() {
        ui.json(&json!({"run_id": run_id, "step": step, "artifacts": paths}));
        return Ok(Exit::Success);
    }
    if paths.is_empty() {
        ui.out(format!("run {run_id} saved no artifacts"));
    }
    for p in &paths {
        ui.out(p);
    }
    Ok(Exit::Success)
}

/// `artifacts get`: without `--step`, the step that wrote the artifact (the freshness step
/// for sources.json, else the last dbt step that has it).
pub async fn artifacts_get(client: &Client, a: &ArtifactGetArgs, ui: &Ui) -> CmdResult {
    let (bytes, step) = match a.step {
        Some(s) => (
            client.get_artifact(a.run_id, &a.path, Some(s)).await?,
            Some(s),
        ),
        None => find_in_steps(client, a.run_id, &a.path).await?,
    };
    match &a.output {
        Some(path) => {
            write_atomic(path, &bytes).map_err(|e| CliError::usage(e.to_string()))?;
            if ui.is_json() {
                ui.json(&json!({"run_id": a.run_id, "path": a.path, "step": step,
                                "file": path.display().to_string(), "bytes": bytes.len()}));
            } else {
                ui.status(format!("wrote {} ({} bytes)", path.display(), bytes.len()));
            }
        }
        None => return crate::commands::edge::wrote_stdout(ui.raw(&bytes), Exit::Api),
    }
    Ok(Exit::Success)
}

async fn find_in_steps(
    client: &Client,
    run_id: i64,
    path: &str,
) -> Result<(Vec<u8>, Option<i64>), CliError> {
    let run = client.get_run(run_id, &["run_steps"]).await?;
    let mut candidates: Vec<Option<i64>> = Vec::new();
    if path == "sources.json" {
        candidates.extend(freshness_step(&run).map(Some));
    }
    // The default (last step) first, as the API does, then every dbt step newest first.
    candidates.push(None);
    candidates.extend(
        insight::dbt_steps(&run)
            .into_iter()
            .rev()
            .map(|(i, _)| Some(i)),
    );
    for step in candidates {
        match client.get_artifact(run_id, path, step).await {
            Ok(bytes) => return Ok((bytes, step)),
            Err(ApiError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(CliError::new(
        Exit::Api,
        format!("run {run_id} has no artifact {path} in any step"),
    )
    .with_hint(format!(
        "list what it saved: datachonk cloud artifacts list {run_id}"
    )))
}
