//! `datachonk watch`: the sensor loop (`deploy::watch`) — a trigger of the downstream job per
//! new successful upstream run, one watcher per pair.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{GlobalArgs, WatchArgs};
use crate::cloud::Client;
use crate::commands::reporters::terminal::Terminal;
use crate::config::{parse_duration, Config, FlagValues};
use crate::deploy::watch::{Handled, Sensor, SensorOptions};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

use super::connect;

pub fn run(global: &GlobalArgs, args: &WatchArgs, ui: &Ui) -> CmdResult {
    let interval = duration(&args.interval, "--interval")?;
    let look_back = chrono::Duration::from_std(duration(&args.look_back, "--look-back")?)
        .unwrap_or(chrono::Duration::MAX);
    let base = connect::connection_flags(&args.connection);
    let cfg = connect::load(global, &base)?;
    // The downstream job, and the target whose overrides go with its triggers.
    let downstream_cfg = match &args.trigger_target {
        Some(t) => connect::load(
            global,
            &FlagValues {
                target: Some(t.clone()),
                ..base.clone()
            },
        )?,
        None => cfg.clone(),
    };
    let client = connect::client(&cfg, ui)?;
    let rt = crate::commands::edge::runtime()?;
    let jobs = rt.block_on(resolve_jobs(&client, &cfg, &downstream_cfg, args));
    let (upstreams, downstream) = jobs?;
    if upstreams.contains(&downstream) {
        return Err(CliError::usage(format!(
            "job {downstream} would trigger itself: --on-success-of and the downstream job must differ"
        )));
    }
    // Asked once, at start: the triggers come later, with nobody to ask.
    connect::confirm_job(
        global,
        &downstream_cfg,
        Some(downstream),
        args.yes,
        "watching",
    )?;
    let mut request = crate::deploy::request_for(&downstream_cfg.dbt_cloud, None, None)?;
    request.cause = String::new();
    let options = SensorOptions {
        downstream,
        request,
        interval,
        look_back,
        once: args.once,
    };
    let terminal = Terminal::new(ui);
    let sensor = Sensor {
        client: &client,
        reporter: &terminal,
        options,
    };
    let result = rt.block_on(sensor.run(&state_dir(&cfg), &upstreams));
    rt.shutdown_background();
    let (handled, signal) = result?;
    if ui.is_json() {
        let handled: Vec<Value> = handled.iter().map(handled_json).collect();
        ui.json(&json!({
            "outcome": if signal.is_some() { "interrupted" } else { "done" },
            "downstream_job": downstream,
            "handled": handled,
        }));
    }
    Ok(match signal {
        Some(15) => Exit::Terminated,
        Some(1) => Exit::HungUp,
        Some(_) => Exit::Interrupted,
        None => Exit::Success,
    })
}

/// The upstream jobs and the downstream one, named by id or name (resolved once, first).
async fn resolve_jobs(
    client: &Client,
    cfg: &Config,
    downstream_cfg: &Config,
    args: &WatchArgs,
) -> Result<(Vec<i64>, i64), CliError> {
    let mut upstreams = Vec::new();
    for spec in &args.on_success_of {
        upstreams.push(connect::resolve_job(client, cfg, spec).await?);
    }
    let downstream = match &args.trigger {
        Some(spec) => connect::resolve_job(client, cfg, spec).await?,
        None => downstream_cfg.dbt_cloud.require_job_id()?,
    };
    Ok((upstreams, downstream))
}

fn handled_json(h: &Handled) -> Value {
    match *h {
        Handled::TooOld { upstream_run } => {
            json!({"upstream_run": upstream_run, "skipped": "older than --look-back"})
        }
        Handled::Triggered {
            upstream_job,
            upstream_run,
            downstream_run,
        } => json!({"upstream_job": upstream_job, "upstream_run": upstream_run,
                    "downstream_run": downstream_run}),
    }
}

fn duration(text: &str, flag: &str) -> Result<Duration, CliError> {
    let d = parse_duration(text).map_err(|m| CliError::usage(format!("{flag}: {m}")))?;
    if d.is_zero() {
        return Err(CliError::usage(format!("{flag} must be longer than 0s")));
    }
    Ok(d)
}

/// `.datachonk/watch/` next to datachonk.yaml, else in the current directory.
fn state_dir(cfg: &Config) -> PathBuf {
    let root = cfg
        .file
        .as_ref()
        .and_then(|f| f.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    root.join(".datachonk").join("watch")
}
