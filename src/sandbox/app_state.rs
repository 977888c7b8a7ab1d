//! The one owner of the sandbox's state: the world served (fixture), the runs, the request
//! log, faults and rate limits, and the live runs' threads and warehouse slots. Handlers,
//! workers and executors reach the state through here; none of them owns a piece of it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use super::executor::Executor;
use super::faults::FaultEngine;
use super::fixture::{Fixture, RateLimitFixture, TokenFixture};
use super::requests::{RequestHook, RequestLog};
use super::state::RunStore;

/// Lock a mutex, surviving poisoning: a panicked handler must not take the sandbox down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Everything handlers share.
pub(crate) struct AppState {
    /// The world served: the fixture as loaded, then as API calls change it (jobs created,
    /// updated, deleted). A request reads one snapshot ([`AppState::fixture`]); a change
    /// replaces the snapshot whole ([`AppState::change_fixture`]), so no lock is ever held
    /// across a handler.
    pub world: RwLock<Arc<Fixture>>,
    /// The fixture as loaded: what `POST /_sandbox/reset` restores.
    pub loaded: Arc<Fixture>,
    pub executor: Executor,
    pub base_url: String,
    /// What runs' `href` starts with: `base_url` unless told otherwise.
    pub links_url: String,
    pub started: Instant,
    pub runs: Mutex<RunStore>,
    pub log: Mutex<RequestLog>,
    /// The log has started dropping old requests (said once on stderr).
    pub log_overflow_said: AtomicBool,
    pub faults: Mutex<FaultEngine>,
    pub rate: Mutex<RateWindow>,
    pub on_request: Option<RequestHook>,
    pub seq: AtomicU64,
    /// Where live runs keep checkouts, profiles, artifacts and the DuckDB warehouses.
    pub workdir: std::path::PathBuf,
    /// Set at shutdown: live runs stop (and kill their subprocesses) as if cancelled.
    pub stopping: AtomicBool,
    /// Live runs' threads, joined at shutdown.
    pub workers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// One slot per project: runs that share a warehouse take turns.
    pub slots: Mutex<std::collections::HashMap<i64, Arc<Mutex<()>>>>,
}

impl AppState {
    /// The world as it is now.
    pub fn fixture(&self) -> Arc<Fixture> {
        self.world.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Back to the fixture as loaded (jobs written through the API are forgotten).
    pub fn restore_fixture(&self) {
        *self.world.write().unwrap_or_else(|e| e.into_inner()) = self.loaded.clone();
    }

    /// Change the world (job create, update, delete); returns what `change` returned.
    pub fn change_fixture<T>(&self, change: impl FnOnce(&mut Fixture) -> T) -> T {
        let mut world = self.world.write().unwrap_or_else(|e| e.into_inner());
        let mut next = Fixture::clone(&world);
        let out = change(&mut next);
        *world = Arc::new(next);
        out
    }

    /// The slot live runs of project `project_id` take turns on.
    pub fn warehouse_slot(&self, project_id: i64) -> Arc<Mutex<()>> {
        lock(&self.slots).entry(project_id).or_default().clone()
    }

    pub fn token(&self, presented: &str) -> Option<TokenFixture> {
        self.fixture()
            .tokens
            .iter()
            .find(|t| t.token == presented)
            .cloned()
    }
}

/// Sliding one-minute window for the optional rate limit.
pub(crate) struct RateWindow {
    limit: Option<RateLimitFixture>,
    hits: VecDeque<Instant>,
}

impl RateWindow {
    pub fn new(limit: Option<RateLimitFixture>) -> Self {
        RateWindow {
            limit,
            hits: VecDeque::new(),
        }
    }

    /// Count a request; `Some(retry_after_seconds)` when it is over the limit.
    pub(super) fn check(&mut self, now: Instant) -> Option<u64> {
        let limit = self.limit.as_ref()?;
        let window = Duration::from_secs(60);
        while self
            .hits
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.hits.pop_front();
        }
        if self.hits.len() >= limit.requests_per_minute as usize {
            let oldest = self.hits.front().copied().unwrap_or(now);
            let free_in = window.saturating_sub(now.saturating_duration_since(oldest));
            return Some(
                limit
                    .retry_after_seconds
                    .unwrap_or_else(|| free_in.as_secs() + 1),
            );
        }
        self.hits.push_back(now);
        None
    }
}
