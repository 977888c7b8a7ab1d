//! One watcher per run, however many clients look at it.
//!
//! Fifty open pages and twenty scripts polling `runs/:id` must not become seventy pollers of
//! dbt Cloud: the first request for a run starts a task that follows it with the deploy core
//! ([`observe`], the CLI's own adaptive wait) and publishes each of its events on a `watch`
//! channel (the page's stream is one more consumer of those events); every
//! request and SSE stream reads that channel. A finished run's verdict (summary, failing
//! nodes) is gathered once and kept, so looking at it again costs dbt Cloud nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::cloud::insight::ArtifactStore;
use crate::cloud::wait::WaitOptions;
use crate::cloud::{Client, Run};
use crate::deploy::observe::{observe, Observed};
use crate::deploy::{Event, Reporter};

use super::errors::ServeError;
use super::views::{RunView, StepView};

/// What is known of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// The first look is in flight.
    Pending,
    /// The latest state; `finished` views carry the verdict.
    Known(Box<RunView>),
    /// Following it failed (the next request starts again).
    Failed(ServeError),
}

/// Finished runs kept; beyond this the oldest are forgotten (and re-read if asked for).
const KEEP_FINISHED: usize = 500;

pub struct Hub {
    client: Arc<Client>,
    store: ArtifactStore,
    runs: Mutex<HashMap<i64, watch::Receiver<RunState>>>,
}

impl Hub {
    pub fn new(client: Arc<Client>, store: ArtifactStore) -> Arc<Self> {
        Arc::new(Hub {
            client,
            store,
            runs: Mutex::new(HashMap::new()),
        })
    }

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// A receiver of the run's states, starting a watcher unless one runs (or the run is
    /// known finished). `seed`: a state already in hand (the run a trigger returned).
    pub fn follow(self: &Arc<Self>, run_id: i64, seed: Option<&Run>) -> watch::Receiver<RunState> {
        let mut runs = self.runs.lock().expect("hub lock");
        if let Some(rx) = runs.get(&run_id) {
            if !matches!(*rx.borrow(), RunState::Failed(_)) {
                return rx.clone();
            }
        }
        let first = seed.map_or(RunState::Pending, |r| {
            RunState::Known(Box::new(RunView::of(r)))
        });
        let (tx, rx) = watch::channel(first);
        runs.insert(run_id, rx.clone());
        forget_oldest_finished(&mut runs);
        let hub = Arc::clone(self);
        // A run just triggered can lag in dbt Cloud's reads; an id someone typed cannot.
        let options = WaitOptions {
            not_found_grace: if seed.is_some() {
                WaitOptions::default().not_found_grace
            } else {
                std::time::Duration::ZERO
            },
            ..WaitOptions::default()
        };
        tokio::spawn(async move { hub.watch(run_id, options, tx).await });
        rx
    }

    /// The run's current state, waiting for the first look if none was had yet.
    pub async fn current(self: &Arc<Self>, run_id: i64) -> Result<RunView, ServeError> {
        let mut rx = self.follow(run_id, None);
        let state = rx
            .wait_for(|s| !matches!(s, RunState::Pending))
            .await
            .map_err(|_| ServeError::not_found(format!("run {run_id}: its watcher stopped")))?
            .clone();
        match state {
            RunState::Known(view) => Ok(*view),
            RunState::Failed(e) => Err(e),
            RunState::Pending => unreachable!("waited past Pending"),
        }
    }

    async fn watch(&self, run_id: i64, options: WaitOptions, tx: watch::Sender<RunState>) {
        let publisher = Publisher { tx: &tx };
        let ended = observe(&self.client, &publisher, &self.store, run_id, &options).await;
        let state = match ended {
            Ok(Observed::Finished(run, finished)) => {
                RunState::Known(Box::new(RunView::finished(&run, &finished)))
            }
            Ok(Observed::GaveUp) => RunState::Failed(ServeError::new(
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                "timed_out",
                format!("run {run_id} could not be followed"),
            )),
            Err(e) => RunState::Failed(e.into()),
        };
        tx.send_replace(state);
    }
}

/// Publishes a followed run's events as the states the page and `runs/:id` read.
struct Publisher<'a> {
    tx: &'a watch::Sender<RunState>,
}

impl Reporter for Publisher<'_> {
    fn report(&self, event: &Event<'_>) {
        match *event {
            // The terminal status is published with its verdict, by the watcher.
            Event::Status { run, .. } if run.run_status().is_terminal() => {}
            Event::Status { run, .. } => {
                self.tx
                    .send_if_modified(|s| replace(s, RunState::Known(Box::new(RunView::of(run)))));
            }
            Event::Step { step, .. } => {
                self.tx.send_if_modified(|s| match s {
                    RunState::Known(view) => {
                        let before = view.clone();
                        view.upsert_step(StepView::of(step));
                        *view != before
                    }
                    // A finished run's first look reports steps before its status.
                    _ => false,
                });
            }
            _ => {}
        }
    }
}

fn replace(slot: &mut RunState, new: RunState) -> bool {
    if *slot == new {
        return false;
    }
    *slot = new;
    true
}

fn forget_oldest_finished(runs: &mut HashMap<i64, watch::Receiver<RunState>>) {
    let finished = |rx: &watch::Receiver<RunState>| {
        matches!(&*rx.borrow(), RunState::Known(v) if v.finished)
            || matches!(&*rx.borrow(), RunState::Failed(_))
    };
    let mut done: Vec<i64> = runs
        .iter()
        .filter(|(_, rx)| finished(rx))
        .map(|(id, _)| *id)
        .collect();
    if done.len() <= KEEP_FINISHED {
        return;
    }
    done.sort_unstable();
    for id in &done[..done.len() - KEEP_FINISHED] {
        runs.remove(id);
    }
}
