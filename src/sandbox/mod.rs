//! A local dbt Cloud v2-compatible server and its run executors.
//!
//! The sandbox speaks the dbt Cloud Administrative API v2 (and the v3 accounts, projects and
//! environments endpoints) with dbt Cloud's paths, envelopes, status codes, pagination and
//! error bodies, so datachonk's client *and* unmodified third-party clients (dbt-cloud-cli,
//! Airflow's hook, dbtc, dbt-mcp) work against it. It backs the quickstart and the tests.
//!
//! # Library API (stable: other modules and tests rely on it)
//!
//! ```no_run
//! use datachonk::sandbox::{Sandbox, SandboxOptions};
//!
//! let sandbox = Sandbox::start(SandboxOptions::default().with_fault("503:every=2")?)?;
//! let url = sandbox.base_url(); // e.g. http://127.0.0.1:41234
//! // ... drive a client against `url` with token "sandbox-token" ...
//! assert!(sandbox.requests().iter().all(|r| r.auth_scheme.is_some()));
//! for run in sandbox.runs() {
//!     println!("run {} is {}", run.id, run.status_humanized);
//! }
//! sandbox.shutdown(); // or just drop it
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! HTTPS, for clients that hard-code `https://` (dbt-cloud-cli, dbtc):
//!
//! ```no_run
//! use datachonk::sandbox::{Sandbox, SandboxOptions, TlsMode};
//!
//! let sandbox = Sandbox::start(SandboxOptions::default().with_tls(TlsMode::SelfSigned))?;
//! let url = sandbox.base_url(); // https://127.0.0.1:41234
//! let pem = sandbox.ca_pem(); // trust this (reqwest::Certificate::from_pem) ...
//! let file = sandbox.ca_path(); // ... or point REQUESTS_CA_BUNDLE / SSL_CERT_FILE here
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Real runs: give a job a git repository and pick an executor. With `simulate` the run
//! clones the requested sha and its artifacts name the models found there; with
//! [`Executor::Dbt`] it runs the job's steps with real dbt-core against a DuckDB file per
//! environment, serving dbt's own logs and artifacts (deferral included).
//!
//! ```no_run
//! use std::path::PathBuf;
//! use datachonk::sandbox::{Executor, Sandbox, SandboxOptions};
//!
//! let sandbox = Sandbox::start(
//!     SandboxOptions::default()
//!         .with_repository(1, "file:///srv/git/analytics.git")
//!         .with_executor(Executor::Dbt { dbt: PathBuf::from("dbt") }),
//! )?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Such runs are *live*: a thread per run records what happens (see `worker`), the state
//! machine is the same (Queued → Starting → Running → Success/Error/Cancelled), and a cancel
//! kills the running `git` or `dbt`. An unknown sha or branch fails step 1 like dbt Cloud.
//!
//! Admin endpoints (outside `/api/`, never logged, no token needed) let tests that start the
//! binary observe it: `GET /_sandbox/requests` (the [`RequestRecord`]s), `GET /_sandbox/runs`
//! (the [`RunSummary`]s), `POST /_sandbox/reset-log`, `POST /_sandbox/reset` (log, runs, and
//! jobs back to the fixture as loaded),
//! `GET /_sandbox/health`.

mod app_state;
mod artifacts;
mod checkout;
mod dbt_executor;
mod envelope;
pub mod executor;
pub mod faults;
pub mod fixture;
mod job_definitions;
mod json;
mod lineage;
mod live;
mod live_run;
mod manifest_from_checkout;
mod plan;
mod query;
mod requests;
mod routes;
mod server;
mod simulate;
mod state;
mod status;
pub mod trigger;
mod web;
mod work_order;
mod worker;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

pub use crate::tls::{default_cert_path, TlsError, TlsMode};
pub use executor::{Executor, RunStatus};
pub use faults::{FaultSpec, FaultSpecError};
pub use fixture::{Fixture, FixtureError, DEFAULT_TOKEN};
pub use requests::{RequestHook, RequestRecord};
pub use state::RunSummary;
pub use trigger::TriggerRequest;

use app_state::{lock, AppState, RateWindow};
use faults::FaultEngine;
use state::RunStore;

/// How to start a sandbox. `SandboxOptions::default()` is the built-in fixture on a free
/// loopback port, accepting [`DEFAULT_TOKEN`].
#[derive(Clone)]
pub struct SandboxOptions {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    pub fixture: Fixture,
    /// Faults on top of the fixture's own `faults:`.
    pub faults: Vec<FaultSpec>,
    pub executor: Executor,
    /// Id of the first run (default 1). Set it high (e.g. 70403110000001) to exercise i64 ids.
    pub first_run_id: i64,
    pub on_request: Option<RequestHook>,
    /// Serve HTTPS instead of HTTP (`None`: plain HTTP).
    pub tls: Option<TlsMode>,
    /// Where to write the PEM clients should trust; `None`: [`default_cert_path`] for the
    /// port, removed again at shutdown. Ignored without TLS.
    pub tls_cert_out: Option<PathBuf>,
    /// Where live runs keep checkouts, artifacts and DuckDB warehouses (kept after shutdown);
    /// `None`: a fresh temporary directory, removed at shutdown.
    pub workdir: Option<PathBuf>,
    /// How many requests `/_sandbox/requests` keeps (the newest; older ones are counted as
    /// dropped). Default [`requests::DEFAULT_LOG_CAPACITY`].
    pub request_log_capacity: usize,
    /// Where runs' `href` links point (`https://emea.dbt.com`, say), as a dbt Cloud's own links
    /// would; `None`: the sandbox itself.
    pub links_url: Option<String>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            fixture: Fixture::builtin(DEFAULT_TOKEN),
            faults: Vec::new(),
            executor: Executor::default(),
            first_run_id: 1,
            links_url: None,
            on_request: None,
            tls: None,
            tls_cert_out: None,
            workdir: None,
            request_log_capacity: requests::DEFAULT_LOG_CAPACITY,
        }
    }
}

impl std::fmt::Debug for SandboxOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxOptions")
            .field("addr", &self.addr)
            .field("faults", &self.faults)
            .field("first_run_id", &self.first_run_id)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl SandboxOptions {
    pub fn with_addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    pub fn with_fixture(mut self, fixture: Fixture) -> Self {
        self.fixture = fixture;
        self
    }

    /// Built-in fixture accepting `token` (with full access) instead of the default token.
    pub fn with_token(mut self, token: &str) -> Self {
        self.fixture = Fixture::builtin(token);
        self
    }

    /// Add a fault in `--fault` syntax (see [`faults`]).
    pub fn with_fault(mut self, spec: &str) -> Result<Self, FaultSpecError> {
        self.faults.push(spec.parse()?);
        Ok(self)
    }

    /// Runs link to `url` (their `href`) instead of to the sandbox: what a client shows for a
    /// run of a real dbt Cloud, without leaving loopback.
    pub fn with_links_url(mut self, url: impl Into<String>) -> Self {
        self.links_url = Some(url.into());
        self
    }

    pub fn with_first_run_id(mut self, id: i64) -> Self {
        self.first_run_id = id;
        self
    }

    /// Serve HTTPS; see [`TlsMode`]. [`RunningSandbox::ca_pem`] is what clients trust.
    pub fn with_tls(mut self, mode: TlsMode) -> Self {
        self.tls = Some(mode);
        self
    }

    /// Write the PEM clients should trust to `path` (kept after shutdown).
    pub fn with_tls_cert_out(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_cert_out = Some(path.into());
        self
    }

    /// Run with `executor` (default [`Executor::Simulate`]).
    pub fn with_executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }

    /// Point job `job_id`'s runs at a git repository (URL or path); see
    /// [`fixture::JobFixture::repository`]. Does nothing when the fixture has no such job
    /// (set the fixture first: [`with_fixture`](Self::with_fixture) replaces it).
    pub fn with_repository(mut self, job_id: i64, repository: impl Into<String>) -> Self {
        self.fixture.set_repository(job_id, repository);
        self
    }

    /// Keep live runs' files (and the DuckDB warehouses, so they survive restarts) in `dir`.
    pub fn with_workdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Keep only the newest `n` requests in the log.
    pub fn with_request_log_capacity(mut self, n: usize) -> Self {
        self.request_log_capacity = n;
        self
    }

    pub fn on_request(mut self, hook: impl Fn(&RequestRecord) + Send + Sync + 'static) -> Self {
        self.on_request = Some(Arc::new(hook));
        self
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the sandbox's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("invalid fixture: {0}")]
    Fixture(#[from] FixtureError),
    #[error("invalid fault spec: {0}")]
    Fault(#[from] FaultSpecError),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("cannot create the sandbox's work directory {}: {source}", path.display())]
    Workdir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Entry point: `Sandbox::start(options)`.
pub struct Sandbox;

impl Sandbox {
    /// Bind, then serve on a dedicated thread with its own tokio runtime; returns once the
    /// port is listening, so the base URL can be used immediately.
    pub fn start(options: SandboxOptions) -> Result<RunningSandbox, SandboxError> {
        options.fixture.validate("fixture")?;
        let mut specs = options
            .fixture
            .faults
            .iter()
            .map(|s| s.parse::<FaultSpec>())
            .collect::<Result<Vec<_>, _>>()?;
        specs.extend(options.faults.iter().cloned());

        let bind_err = |source| SandboxError::Bind {
            addr: options.addr,
            source,
        };
        let listener = std::net::TcpListener::bind(options.addr).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let shown = if addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        } else {
            addr
        };
        let tls = match &options.tls {
            Some(mode) => Some(TlsTrust::set_up(mode, &options, addr)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{shown}");
        let (workdir, remove_workdir) = match &options.workdir {
            Some(dir) => (dir.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "datachonk-sandbox-{}-{}",
                    std::process::id(),
                    addr.port()
                )),
                true,
            ),
        };
        // The caller's directory is checked now; the temporary one is only created when a
        // live run needs it, so a simulated-only sandbox leaves nothing behind even if killed.
        if !remove_workdir {
            std::fs::create_dir_all(&workdir).map_err(|source| SandboxError::Workdir {
                path: workdir.clone(),
                source,
            })?;
        }

        let loaded = Arc::new(options.fixture);
        let state = Arc::new(AppState {
            rate: Mutex::new(RateWindow::new(loaded.rate_limit.clone())),
            world: std::sync::RwLock::new(loaded.clone()),
            loaded,
            executor: options.executor,
            links_url: options
                .links_url
                .clone()
                .unwrap_or_else(|| base_url.clone()),
            base_url: base_url.clone(),
            started: Instant::now(),
            runs: Mutex::new(RunStore::new(options.first_run_id)),
            log: Mutex::new(requests::RequestLog::new(options.request_log_capacity)),
            log_overflow_said: AtomicBool::new(false),
            faults: Mutex::new(FaultEngine::new(specs)),
            on_request: options.on_request,
            seq: AtomicU64::new(0),
            workdir: workdir.clone(),
            stopping: AtomicBool::new(false),
            workers: Mutex::new(Vec::new()),
            slots: Mutex::new(Default::default()),
        });

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SandboxError::Runtime)?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let app = routes::router(state.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let thread = std::thread::Builder::new()
            .name("datachonk-sandbox".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let listener = server::KillableListener::new(listener, acceptor);
                    let _ = server::serve(listener, app, stop_rx).await;
                });
            })
            .map_err(SandboxError::Runtime)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(SandboxError::Runtime(e)),
            Err(_) => {
                return Err(SandboxError::Runtime(std::io::Error::other(
                    "sandbox thread exited during start-up",
                )))
            }
        }
        Ok(RunningSandbox {
            state,
            addr: shown,
            stop: stop_tx,
            thread: Some(thread),
            tls: tls.map(|t| t.trust),
            remove_workdir: remove_workdir.then_some(workdir),
        })
    }
}

/// A sandbox serving on its own thread. Dropping it shuts it down.
pub struct RunningSandbox {
    state: Arc<AppState>,
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    tls: Option<Trust>,
    /// The temporary work directory to remove at shutdown (`None`: the caller's, kept).
    remove_workdir: Option<PathBuf>,
}

/// What a TLS sandbox tells clients to trust, and whether its file is ours to remove.
struct Trust {
    pem: String,
    path: PathBuf,
    remove_at_shutdown: bool,
}

/// TLS set-up done before the server thread starts, so errors surface from `start`.
struct TlsTrust {
    acceptor: tokio_rustls::TlsAcceptor,
    trust: Trust,
}

impl TlsTrust {
    fn set_up(
        mode: &TlsMode,
        options: &SandboxOptions,
        addr: SocketAddr,
    ) -> Result<Self, TlsError> {
        let setup = crate::tls::TlsSetup::new(mode, addr.ip())?;
        let trust = match (&options.tls_cert_out, mode) {
            (Some(path), _) => {
                crate::tls::write_pem(path, &setup.trust_pem)?;
                Trust {
                    pem: setup.trust_pem,
                    path: path.clone(),
                    remove_at_shutdown: false,
                }
            }
            // The user's own certificate file is already the thing to trust.
            (None, TlsMode::Files { cert, .. }) => Trust {
                pem: setup.trust_pem,
                path: cert.clone(),
                remove_at_shutdown: false,
            },
            (None, TlsMode::SelfSigned) => {
                let path = default_cert_path(addr.port());
                crate::tls::write_pem(&path, &setup.trust_pem)?;
                Trust {
                    pem: setup.trust_pem,
                    path,
                    remove_at_shutdown: true,
                }
            }
        };
        Ok(TlsTrust {
            acceptor: setup.acceptor,
            trust,
        })
    }
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT` (`https://` with TLS) — the access URL to give a client.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// With TLS, the PEM certificate clients must trust (the generated CA, or the chain
    /// given with [`TlsMode::Files`]); e.g. `reqwest::Certificate::from_pem`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.pem.as_str())
    }

    /// With TLS, a file holding [`ca_pem`](Self::ca_pem), for out-of-process clients
    /// (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`).
    pub fn ca_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|t| t.path.as_path())
    }

    /// The fixture being served, as it is now: jobs created, updated or deleted through the
    /// API included (tokens too: the caller configured them).
    pub fn fixture(&self) -> Fixture {
        Fixture::clone(&self.state.fixture())
    }

    /// Every `/api/` (and other non-admin) request so far, in arrival order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).records()
    }

    /// How many requests were dropped from the front of the log (it keeps the newest).
    pub fn requests_dropped(&self) -> u64 {
        lock(&self.state.log).dropped()
    }

    /// Forget the recorded requests (fault counters keep counting).
    pub fn reset_log(&self) {
        lock(&self.state.log).clear();
    }

    /// All runs created so far, oldest first, with their status now.
    pub fn runs(&self) -> Vec<RunSummary> {
        let now = Instant::now();
        lock(&self.state.runs)
            .runs
            .values()
            .map(|r| r.summary(now))
            .collect()
    }

    /// One run, with its status now.
    pub fn run(&self, id: i64) -> Option<RunSummary> {
        lock(&self.state.runs)
            .get(id)
            .map(|r| r.summary(Instant::now()))
    }

    /// Stop serving and wait for the server thread to end.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Where live runs keep their files (see [`SandboxOptions::with_workdir`]).
    pub fn workdir(&self) -> &Path {
        &self.state.workdir
    }

    fn stop_and_join(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // Live runs see this as a cancel: their subprocesses are killed within a poll.
        self.state.stopping.store(true, Ordering::Relaxed);
        let workers = std::mem::take(&mut *lock(&self.state.workers));
        for w in workers {
            let _ = w.join();
        }
        if let Some(dir) = self.remove_workdir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(trust) = self.tls.take() {
            if trust.remove_at_shutdown {
                let _ = std::fs::remove_file(&trust.path);
            }
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
