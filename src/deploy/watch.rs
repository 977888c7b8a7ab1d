//! The sensor loop behind `datachonk watch`: one list request per interval for every upstream
//! job, a trigger of the downstream job per new successful upstream run, state saved around
//! each trigger (`cloud::sensor`), one watcher per pair (an OS lock that dies with the
//! process). It reports events and returns what it handled; it prints nothing.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cloud::sensor::{self, Due, PairState};
use crate::cloud::{trigger_run, ApiError, Client, RunQuery, RunStatus, TriggerRequest};

use super::error::DeployError;
use super::event::{Event, Reporter};

/// One upstream → downstream pair being watched.
pub struct Pair {
    upstream: i64,
    upstream_name: String,
    path: PathBuf,
    state: PairState,
    _lock: File,
}

/// What one upstream run led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// It finished before the look-back: not triggered.
    TooOld { upstream_run: i64 },
    /// The downstream job was triggered for it.
    Triggered {
        upstream_job: i64,
        upstream_run: i64,
        downstream_run: i64,
    },
}

/// How the loop is run.
#[derive(Debug, Clone)]
pub struct SensorOptions {
    pub downstream: i64,
    /// The downstream trigger's body (its cause is set per upstream run).
    pub request: TriggerRequest,
    pub interval: Duration,
    pub look_back: chrono::Duration,
    /// One interval, then stop.
    pub once: bool,
}

/// The watcher: its client, where its events go, and its pairs.
pub struct Sensor<'a> {
    pub client: &'a Client,
    pub reporter: &'a dyn Reporter,
    pub options: SensorOptions,
}

impl Sensor<'_> {
    /// Lock the pairs' state in `dir` and run the loop until a stop signal (or after one
    /// interval with `once`): what was handled, and the signal's number if one stopped it.
    pub async fn run(
        &self,
        dir: &Path,
        upstreams: &[i64],
    ) -> Result<(Vec<Handled>, Option<i32>), DeployError> {
        let stop = Arc::new(AtomicI32::new(0));
        listen_for_signals(stop.clone());
        let mut pairs = self.open_pairs(dir, upstreams).await?;
        let mut report = Vec::new();
        // A trigger started before a crash is found (by its cause) before anything else.
        for pair in &mut pairs {
            if let Some(pending) = pair.state.pending_upstream_run {
                self.recover(pair, pending).await?;
            }
        }
        let interval = self.options.interval;
        loop {
            match self.tick(&mut pairs, &stop).await {
                Ok(mut done) => report.append(&mut done),
                // A bad interval (5xx, dropped connection) is retried at the next one.
                Err(e) if !self.options.once => self.reporter.report(&Event::SensorRetrying {
                    error: &e.message,
                    interval,
                }),
                Err(e) => return Err(e),
            }
            let signal = stop.load(Ordering::SeqCst);
            if signal != 0 {
                return Ok((report, Some(signal)));
            }
            if self.options.once {
                return Ok((report, None));
            }
            wait(interval, &stop).await;
            if stop.load(Ordering::SeqCst) != 0 {
                return Ok((report, Some(stop.load(Ordering::SeqCst))));
            }
        }
    }

    /// Lock and load (or start) each pair's state. A pair seen for the first time starts
    /// after the upstream job's newest successful run: the watcher reacts to what happens
    /// from now on.
    async fn open_pairs(&self, dir: &Path, upstreams: &[i64]) -> Result<Vec<Pair>, DeployError> {
        let (client, downstream) = (self.client, self.options.downstream);
        std::fs::create_dir_all(dir)
            .map_err(|e| DeployError::usage(format!("cannot create {}: {e}", dir.display())))?;
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
            let state = match sensor::load(&path).map_err(DeployError::usage)? {
                Some(s) => s,
                None => {
                    let newest = client
                        .newest_run_id(upstream, &[RunStatus::Success])
                        .await?;
                    let s = PairState::new(upstream, downstream, newest);
                    sensor::save(&path, &s).map_err(DeployError::usage)?;
                    self.reporter.report(&Event::SensorStarted {
                        upstream_job: upstream,
                        name: &name,
                        downstream_job: downstream,
                        after_run: newest,
                    });
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

    /// One interval: one list request for every pair, then a trigger per due upstream run.
    async fn tick(
        &self,
        pairs: &mut [Pair],
        stop: &AtomicI32,
    ) -> Result<Vec<Handled>, DeployError> {
        let cursor = pairs
            .iter()
            .map(|p| p.state.last_upstream_run)
            .min()
            .unwrap_or(0);
        let runs = self
            .client
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
            for item in sensor::due(&pair.state, &runs, now, self.options.look_back) {
                if stop.load(Ordering::SeqCst) != 0 {
                    return Ok(done);
                }
                let handled = match item {
                    Due::TooOld(id) => self.too_old(pair, id)?,
                    Due::Trigger(id) => match self.trigger_for(pair, id).await? {
                        Some(h) => h,
                        None => continue,
                    },
                };
                done.push(handled);
            }
        }
        Ok(done)
    }

    fn too_old(&self, pair: &mut Pair, id: i64) -> Result<Handled, DeployError> {
        pair.state.handled(id, None);
        sensor::save(&pair.path, &pair.state).map_err(DeployError::usage)?;
        self.reporter.report(&Event::SensorSkipped {
            upstream_job: pair.upstream,
            upstream_run: id,
        });
        Ok(Handled::TooOld { upstream_run: id })
    }

    /// Trigger the downstream job for upstream run `id`, the state saved before and after
    /// (`None`: it was already handled before a restart).
    async fn trigger_for(&self, pair: &mut Pair, id: i64) -> Result<Option<Handled>, DeployError> {
        let downstream = self.options.downstream;
        // A trigger for `id` that ended in doubt (its answer lost and the look-up undecided)
        // may have created a run: look for it by cause first.
        if pair.state.pending_upstream_run == Some(id) {
            self.recover(pair, id).await?;
            if pair.state.last_upstream_run >= id {
                return Ok(None);
            }
        }
        pair.state.pending_upstream_run = Some(id);
        sensor::save(&pair.path, &pair.state).map_err(DeployError::usage)?;
        let mut req = self.options.request.clone();
        req.cause = sensor::cause_for(id, &pair.upstream_name);
        let triggered = trigger_run(self.client, downstream, &req).await?;
        pair.state.handled(id, Some(triggered.run.id));
        sensor::save(&pair.path, &pair.state).map_err(DeployError::usage)?;
        self.reporter.report(&Event::SensorTriggered {
            upstream_job: pair.upstream,
            name: &pair.upstream_name,
            upstream_run: id,
            downstream_job: downstream,
            run: &triggered.run,
        });
        Ok(Some(Handled::Triggered {
            upstream_job: pair.upstream,
            upstream_run: id,
            downstream_run: triggered.run.id,
        }))
    }

    /// A trigger was started for `pending` and not recorded: find its run by cause, else it
    /// provably created none (the cause names the upstream run) and the next tick triggers it.
    async fn recover(&self, pair: &mut Pair, pending: i64) -> Result<(), ApiError> {
        let recent = self
            .client
            .list_runs(&RunQuery {
                job_id: Some(self.options.downstream),
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
                self.reporter.report(&Event::SensorRecovered {
                    upstream_job: pair.upstream,
                    upstream_run: pending,
                    run,
                });
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
}

/// An exclusive lock on `path` for as long as this process lives (released by the OS even
/// after kill -9).
fn lock(path: &Path) -> Result<File, DeployError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| DeployError::usage(format!("cannot open {}: {e}", path.display())))?;
    match try_lock(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(DeployError::usage(format!(
            "another datachonk watch holds {}: one watcher per pair",
            path.display()
        ))
        .with_hint("stop the other watcher first; this one would trigger the same runs")),
        Err(e) => Err(DeployError::usage(format!(
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
