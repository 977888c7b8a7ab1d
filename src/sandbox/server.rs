//! The HTTP server: binding, the per-request middleware (request log, rate limit, faults),
//! and a lifecycle that runs on its own thread and tokio runtime so synchronous callers —
//! the quickstart, tests, benchmarks — can start and stop a sandbox with two calls.
//!
//! Why axum: it is hyper underneath (the same HTTP stack as our reqwest client, so one set of
//! transitive dependencies), routing and extractors keep handlers small, and its `Listener`
//! trait lets us wrap each TCP stream so a fault can drop a connection without answering.
//! TLS (tokio-rustls, see `tls.rs`) lives in that same listener rather than in a separate
//! server crate, so the kill switch wraps TLS connections too.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::app_state::{lock, AppState};
use super::envelope::ApiError;
use super::faults::FaultAction;
use super::requests::{redact_query, RequestRecord};

/// One accepted connection: plain TCP, or TLS over TCP once its handshake is done.
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connection that a fault can kill: once killed, reads and writes fail, hyper closes the
/// connection, and the client sees it closed without an answer. It wraps the TLS layer, not
/// the socket under it, so under TLS too the socket just closes (no TLS alert, no response).
pub(crate) struct KillableStream {
    inner: Conn,
    killed: Arc<AtomicBool>,
}

impl KillableStream {
    fn new(inner: Conn) -> Self {
        KillableStream {
            inner,
            killed: Arc::new(AtomicBool::new(false)),
        }
    }
}

fn killed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by fault",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            // No close_notify: a dropped connection must look dropped.
            return Poll::Ready(Err(killed_error()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How long a client gets to finish the TLS handshake before its socket is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Handshake = io::Result<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>;

/// Accepts [`KillableStream`]s. With TLS, handshakes run in their own tasks (a JoinSet), so
/// one slow or silent client never holds up the accept loop.
pub(crate) struct KillableListener {
    tcp: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handshakes: tokio::task::JoinSet<Handshake>,
}

impl KillableListener {
    pub fn new(tcp: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        KillableListener {
            tcp,
            tls,
            handshakes: tokio::task::JoinSet::new(),
        }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                // Both branches are cancel-safe: axum may drop this future at shutdown.
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    // A failed handshake (wrong CA, plain HTTP on the TLS port, time-out)
                    // only concerns that client.
                    if let Ok(Ok((tls, addr))) = done {
                        return (KillableStream::new(Conn::Tls(Box::new(tls))), addr);
                    }
                }
                accepted = self.tcp.accept() => match accepted {
                    Ok((inner, addr)) => {
                        let _ = inner.set_nodelay(true);
                        let Some(acceptor) = self.tls.clone() else {
                            return (KillableStream::new(Conn::Plain(inner)), addr);
                        };
                        self.handshakes.spawn(async move {
                            let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(inner))
                                .await
                                .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
                            Ok((tls, addr))
                        });
                    }
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Per-connection handle given to the middleware, to drop the connection.
#[derive(Clone)]
pub(crate) struct ConnControl {
    killed: Arc<AtomicBool>,
}

impl ConnControl {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, KillableListener>> for ConnControl {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        ConnControl {
            killed: stream.io().killed.clone(),
        }
    }
}

/// The `Authorization` scheme, for the log (never the credentials).
fn auth_scheme(req: &Request) -> Option<String> {
    let value = req.headers().get(axum::http::header::AUTHORIZATION)?;
    Some(super::requests::loggable_scheme(
        value.to_str().unwrap_or(""),
    ))
}

fn fault_response(action: FaultAction) -> Response {
    match action {
        FaultAction::Status(404) => ApiError::NotFound.into_response(),
        FaultAction::Status(code) => ApiError::Injected(code).into_response(),
        FaultAction::TooManyRequests {
            retry_after_seconds,
        } => ApiError::TooManyRequests {
            retry_after_seconds,
        }
        .into_response(),
        // Never sent: the connection is killed first.
        FaultAction::Drop => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        FaultAction::Garble => (
            axum::http::StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"status\": {\"code\": 200}, \"data\": {\"id\": ",
        )
            .into_response(),
    }
}

/// Log every API request, enforce the rate limit and apply injected faults. Admin endpoints
/// (`/_sandbox/...`) pass through untouched and unlogged, so observing a test never changes it.
pub(crate) async fn observe(
    State(state): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnControl>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sandbox") {
        return next.run(req).await;
    }
    let arrived = Instant::now();
    let received_at = chrono::Utc::now();
    let seq = state.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let method = req.method().as_str().to_string();
    let query = req.uri().query().map(redact_query);
    let scheme = auth_scheme(&req);
    let is_api = path.starts_with("/api/");

    let mut fired: Vec<String> = Vec::new();
    let mut dropped = false;
    let response = 'answer: {
        if is_api {
            if let Some(retry_after_seconds) = lock(&state.rate).check(arrived) {
                fired.push("rate-limit".into());
                break 'answer ApiError::TooManyRequests {
                    retry_after_seconds,
                }
                .into_response();
            }
        }
        let decision = if is_api {
            lock(&state.faults).decide(&method, &path)
        } else {
            Default::default()
        };
        fired.extend(decision.fired.iter().cloned());
        if !decision.latency.is_zero() {
            tokio::time::sleep(decision.latency).await;
        }
        if let Some(action) = decision.before {
            if action == FaultAction::Drop {
                conn.kill();
                dropped = true;
            }
            break 'answer fault_response(action);
        }
        let response = next.run(req).await;
        match decision.after {
            Some(FaultAction::Drop) => {
                conn.kill();
                dropped = true;
                fault_response(FaultAction::Drop)
            }
            Some(action) => fault_response(action),
            None => response,
        }
    };

    let record = RequestRecord {
        seq,
        method,
        path,
        query,
        status: if dropped {
            0
        } else {
            response.status().as_u16()
        },
        received_at,
        offset_ms: arrived
            .saturating_duration_since(state.started)
            .as_secs_f64()
            * 1000.0,
        latency_ms: arrived.elapsed().as_secs_f64() * 1000.0,
        auth_scheme: scheme,
        fault: (!fired.is_empty()).then(|| fired.join(", ")),
    };
    if let Some(hook) = &state.on_request {
        hook(&record);
    }
    let (pushed_out, kept) = {
        let mut log = lock(&state.log);
        (log.push(record), log.records_len())
    };
    if pushed_out && !state.log_overflow_said.swap(true, Ordering::Relaxed) {
        eprintln!(
            "sandbox: the request log keeps the last {kept} requests; older ones are dropped from now on \
             (GET /_sandbox/requests answers X-Sandbox-Requests-Dropped)"
        );
    }
    response
}

/// Serve `app` on `listener` until `shutdown` flips to true; in-flight requests get a short
/// grace period, then the server stops regardless (a stuck client must not hang shutdown).
pub(crate) async fn serve(
    listener: KillableListener,
    app: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> io::Result<()> {
    let mut hard_stop = shutdown.clone();
    let graceful = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ConnControl>(),
    )
    .with_graceful_shutdown(graceful);
    tokio::select! {
        result = server => result,
        _ = async {
            let _ = hard_stop.wait_for(|stop| *stop).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        } => Ok(()),
    }
}
