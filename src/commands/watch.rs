//! `datachonk watch`: the sensor loop — one list request per interval for every upstream job,
//! a trigger per new successful upstream run, state saved around each trigger
//! (`cloud::sensor`), one watcher per pair (an OS lock that dies with the process).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{GlobalArgs, WatchArgs};
use crate::cloud::sensor::{self, Due, PairState};
use crate::cloud::{trigger_run, ApiError, Client, RunQuery, RunStatus};
use crate::config::{parse_duration, Config, FlagValues};
use crate::error::{CliError, CmdResult, Exit};
use crate::ui::Ui;

use super::connect;

/// One upstream → downstream pair being watched.
struct Pair {
    upstream: i64,
    upstream_name: String,
    path: PathBuf,
    state: PairState,
    _lock: File,
}

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
    let rt = crate::commands::runtime::runtime()?;
    // Jobs named by name are resolved once, before anything else.
    let (upstreams, downstream) = rt.block_on(async {
        let mut upstreams = Vec::new();
        for spec in &args.on_success_of {
            upstreams.push(connect::resolve_job(&client, &cfg, spec).await?);
        }
        let downstream = match &args.trigger {
            Some(spec) => connect::resolve_job(&client, &cfg, spec).await?,
            None => downstream_cfg.dbt_cloud.require_job_id()?,
        };
        Ok::<_, CliError>((upstreams, downstream))
    })?;
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
    let dir = state_dir(&cfg);
    let stop = Arc::new(AtomicI32::new(0));
    let result = rt.block_on(async {
        listen_for_signals(stop.clone());
        let mut pairs = open_pairs(&client, &dir, &upstreams, downstream, ui).await?;
        let request = {
            let mut r = crate::deploy::request_for(&downstream_cfg.dbt_cloud, None, None)?;
            r.cause = String::new();
            r
        };
        let mut report = Vec::new();
        // A trigger started before a crash is found (by its cause) before anything else.
        for pair in &mut pairs {
            if let Some(pending) = pair.state.pending_upstream_run {
                recover(&client, pair, pending, downstream, ui).await?;
            }
        }
        loop {
            match tick(
                &client, &mut pairs, downstream, &request, look_back, &stop, ui,
            )
            .await
            {
                Ok(mut done) => report.append(&mut done),
                // A bad interval (5xx, dropped connection) is retried at the next one.
                Err(e) if !args.once => ui.warn(format!(
                    "{e}; trying again in {}",
                    humantime::format_duration(interval)
                )),
                Err(e) => return Err(e),
            }
            let signal = stop.load(Ordering::SeqCst);
            if signal != 0 {
                return Ok((report, Some(signal)));
            }
            if args.once {
                return Ok((report, None));
            }
            wait(interval, &stop).await;
            if stop.load(Ordering::SeqCst) != 0 {
                return Ok((report, Some(stop.load(Ordering::SeqCst))));
            }
        }
    });
    rt.shutdown_background();
    let (report, signal) = result?;
    if ui.is_json() {
        ui.json(&json!({
            "outcome": if signal.is_some() { "interrupted" } else { "done" },
            "downstream_job": downstream,
            "handled": report,
        }));
    }
    Ok(match signal {
        Some(15) => Exit::Terminated,
        Some(1) => Exit::HungUp,
        Some(_) => Exit::Interrupted,
        None => Exit::Success,
    })
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

/// Lock and load (or start) each pair's state. A pair seen for the first time starts after
/// the upstream job's newest successful run: the watcher reacts to what happens from now on.
async fn open_pairs(
    client: &Client,
    dir: &Path,
    upstreams: &[i64],
    downstream: i64,
    ui: &Ui,
) -> Result<Vec<Pair>, CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::usage(format!("cannot create {}: {e}", dir.display())))?;
    let mut pairs = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for &upstream in upstreams {
        if !seen.insert(upstream) {
            continue;
        }
        let path = sensor::state_path(dir, upstream, downstream);
        let lock = lock(&path.with_extension("lock"))?;
        let name = client
            .get_job(upstream)
            .await?
            .name
            .unwrap_or_else(|| format!("job {upstream}"));
        let state = match sensor::load(&path).map_err(CliError::usage)? {
            Some(s) => s,
            None => {
                let newest = client
                    .newest_run_id(upstream, &[RunStatus::Success])
                    .await?;
                let s = PairState::new(upstream, downstream, newest);
                sensor::save(&path, &s).map_err(CliError::usage)?;
                ui.status(format!(
                    "watching job {upstream} ({name}) → job {downstream}: from after run {newest}"
                ));
                s
            }
        };
        pairs.push(Pair {
            upstream,
            upstream_name: name,
            path,
            state,
            _lock: lock,
        });
    }
    Ok(pairs)
}

/// An exclusive lock on `path` for as long as this process lives (released by the OS even
/// after kill -9).
fn lock(path: &Path) -> Result<File, CliError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| CliError::usage(format!("cannot open {}: {e}", path.display())))?;
    match try_lock(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(CliError::usage(format!(
            "another datachonk watch holds {}: one watcher per pair",
            path.display()
        ))
        .with_hint("stop the other watcher first; this one would trigger the same runs")),
        Err(e) => Err(CliError::usage(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}

/// flock(2), not File::try_lock: the crate's MSRV predates it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a valid, open descriptor owned by `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

/// One interval: one list request for every pair, then a trigger per due upstream run.
async fn tick(
    client: &Client,
    pairs: &mut [Pair],
    downstream: i64,
    request: &crate::cloud::TriggerRequest,
    look_back: chrono::Duration,
    stop: &AtomicI32,
    ui: &Ui,
) -> Result<Vec<Value>, CliError> {
    let cursor = pairs
        .iter()
        .map(|p| p.state.last_upstream_run)
        .min()
        .unwrap_or(0);
    let runs = client
        .list_runs(&RunQuery {
            status_in: vec![RunStatus::Success],
            id_gt: Some(cursor),
            order_by: Some("id".into()),
            limit: 1000,
            ..RunQuery::default()
        })
        .await?;
    let now = chrono::Utc::now();
    let mut done = Vec::new();
    for pair in pairs.iter_mut() {
        for item in sensor::due(&pair.state, &runs, now, look_back) {
            if stop.load(Ordering::SeqCst) != 0 {
                return Ok(done);
            }
            match item {
                Due::TooOld(id) => {
                    pair.state.handled(id, None);
                    sensor::save(&pair.path, &pair.state).map_err(CliError::usage)?;
                    ui.status(format!(
                        "run {id} of job {} finished before the look-back: not triggered",
                        pair.upstream
                    ));
                    done.push(json!({"upstream_run": id, "skipped": "older than --look-back"}));
                }
                Due::Trigger(id) => {
                    // A trigger for `id` that ended in doubt (its answer lost and the look-up
                    // undecided) may have created a run: look for it by cause first.
                    if pair.state.pending_upstream_run == Some(id) {
                        recover(client, pair, id, downstream, ui).await?;
                        if pair.state.last_upstream_run >= id {
                            continue;
                        }
                    }
                    pair.state.pending_upstream_run = Some(id);
                    sensor::save(&pair.path, &pair.state).map_err(CliError::usage)?;
                    let mut req = request.clone();
                    req.cause = sensor::cause_for(id, &pair.upstream_name);
                    let triggered = trigger_run(client, downstream, &req).await?;
                    pair.state.handled(id, Some(triggered.run.id));
                    sensor::save(&pair.path, &pair.state).map_err(CliError::usage)?;
                    ui.out(format!(
                        "run {id} of job {} ({}) succeeded → triggered run {} of job {downstream}",
                        pair.upstream, pair.upstream_name, triggered.run.id
                    ));
                    done.push(json!({"upstream_job": pair.upstream, "upstream_run": id,
                                     "downstream_run": triggered.run.id}));
                }
            }
        }
    }
    Ok(done)
}

/// A trigger was started for `pending` and not recorded: find its run by cause, else it
/// provably created none (the cause names the upstream run) and the next tick triggers it.
async fn recover(
    client: &Client,
    pair: &mut Pair,
    pending: i64,
    downstream: i64,
    ui: &Ui,
) -> Result<(), ApiError> {
    let recent = client
        .list_runs(&RunQuery {
            job_id: Some(downstream),
            order_by: Some("-id".into()),
            limit: 100,
            include_related: vec!["trigger".into()],
            ..RunQuery::default()
        })
        .await?;
    let found = recent.iter().find(|r| {
        r.trigger
            .as_ref()
            .and_then(|t| t.cause.as_deref())
            .is_some_and(|c| sensor::cause_names(c, pending))
    });
    match found {
        Some(run) => {
            ui.status(format!(
                "run {pending} of job {} was already handled before a restart (run {})",
                pair.upstream, run.id
            ));
            pair.state.handled(pending, Some(run.id));
        }
        None => {
            // Not triggered after all: forget the cursor move so the next tick triggers it.
            pair.state.pending_upstream_run = None;
            pair.state.last_upstream_run = pair.state.last_upstream_run.min(pending - 1);
        }
    }
    let _ = sensor::save(&pair.path, &pair.state);
    Ok(())
}

/// Ctrl-C → 2 (SIGINT), SIGTERM → 15, SIGHUP → 1: the loop finishes its current step and
/// exits (130, 143, 129).
fn listen_for_signals(stop: Arc<AtomicI32>) {
    let on_int = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_int.store(2, Ordering::SeqCst);
        }
    });
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            let got = tokio::select! {
                _ = term.recv() => 15,
                _ = hup.recv() => 1,
            };
            let _ = stop.compare_exchange(0, got, Ordering::SeqCst, Ordering::SeqCst);
        }
    });
}

/// Sleep `interval`, waking early for a signal.
async fn wait(interval: Duration, stop: &AtomicI32) {
    let until = tokio::time::Instant::now() + interval;
    while tokio::time::Instant::now() < until && stop.load(Ordering::SeqCst) == 0 {
        let left = until - tokio::time::Instant::now();
        tokio::time::sleep(left.min(Duration::from_millis(200))).await;
    }
}
