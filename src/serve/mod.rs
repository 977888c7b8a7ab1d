//! `datachonk serve`: the integration API (`/api/dbt-cloud/*`) and a page to trigger and
//! watch runs, on the CLI's own client, configuration, waiting and verdicts. Knows no CLI:
//! `commands/serve.rs` turns flags and configuration into [`ServeOptions`].

pub mod api;
pub mod commit;
pub mod errors;
pub mod guard;
pub mod hub;
mod listener;
mod page;
mod retry_slots;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

pub use api::{App, ResolveTarget, Settings, TargetInfo};
pub use guard::Guard;

use crate::tls::TlsMode;

/// One line per request (method, path without its query: the key travels there once, and
/// status); never a header or a body.
pub type RequestLog = Arc<dyn Fn(&str) + Send + Sync>;

pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsMode>,
    pub key: String,
    pub allow_origins: Vec<String>,
    pub log: RequestLog,
}

/// A bound server, not yet serving: its address is known (port 0 resolved), so the caller
/// can print the URL before [`Bound::serve`].
pub struct Bound {
    listener: listener::Listener,
    router: Router,
    url: String,
}

impl Bound {
    /// The page's URL with the key (`http://127.0.0.1:PORT/?key=…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Serve until the process ends.
    pub async fn serve(self) {
        self.listener.run(self.router).await
    }
}

/// Bind and build the routes.
pub async fn bind(options: ServeOptions, app: Arc<App>) -> Result<Bound, String> {
    let tls = match &options.tls {
        Some(mode) => Some(
            crate::tls::TlsSetup::new(mode, options.addr.ip())
                .map_err(|e| e.to_string())?
                .acceptor,
        ),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = listener::Listener::bind(options.addr, tls)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let bound = listener.local_addr();
    let host = match bound {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    let url = format!("{scheme}://{host}/?key={}", options.key);
    let guard = Arc::new(Guard::new(
        options.key,
        bound,
        scheme == "https",
        options.allow_origins,
    ));
    let router = routes(app)
        .layer(middleware::from_fn_with_state(guard, guard::check))
        .layer(middleware::from_fn_with_state(options.log, log_request));
    Ok(Bound {
        listener,
        router,
        url,
    })
}

fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{file}", get(page::asset))
        .route("/api/dbt-cloud/openapi.json", get(page::openapi))
        .route("/api/dbt-cloud/connect", post(api::connect))
        .route("/api/dbt-cloud/status", get(api::status))
        .route("/api/dbt-cloud/projects/{id}/jobs", get(api::jobs))
        .route("/api/dbt-cloud/trigger-run", post(api::trigger))
        .route("/api/dbt-cloud/runs/{id}", get(api::run))
        .route("/api/dbt-cloud/runs/{id}/events", get(api::events))
        .route("/api/dbt-cloud/runs/{id}/retry", post(api::retry))
        .fallback(|| async {
            errors::ServeError::not_found("no such endpoint")
                .hint("GET /api/dbt-cloud/openapi.json describes the API")
        })
        .with_state(app)
}

async fn log_request(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
    let began = Instant::now();
    let line = format!("{} {}", request.method(), request.uri().path());
    let response = next.run(request).await;
    log(&format!(
        "{line} -> {} ({} ms)",
        response.status().as_u16(),
        began.elapsed().as_millis()
    ));
    response
}
