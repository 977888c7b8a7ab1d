//! The accept loop: hyper's HTTP/1 with a header-read timeout (a client that trickles its
//! request cannot hold a connection), a cap on open connections, and TLS handshakes under a
//! deadline in each connection's own task. Connections that have not yet sent a complete
//! request head are few and the first to go: past `MAX_PENDING` of them the oldest is
//! dropped, so a slowloris never makes a real request wait for the header timeout.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};

/// Open connections at once (50 pages' SSE streams and scripts fit many times over).
const MAX_CONNECTIONS: usize = 512;
/// Connections still in their TLS handshake or first request head. Well under
/// `MAX_CONNECTIONS`, so trickling clients can never take every slot.
const MAX_PENDING: usize = 64;
/// From connection (or the end of the previous request) to a complete request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Listener {
    tcp: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Listener {
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<Self> {
        Ok(Listener {
            tcp: TcpListener::bind(addr).await?,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("a bound socket has an address")
    }

    pub async fn run(self, router: Router) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let pending = Arc::new(Pending::default());
        loop {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                return;
            };
            let (tcp, _) = match self.tcp.accept().await {
                Ok(conn) => conn,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let tls = self.tls.clone();
            let (id, evicted) = pending.register();
            let service = HeadSeen {
                inner: TowerToHyperService::new(router.clone()),
                pending: Arc::clone(&pending),
                id,
                seen: AtomicBool::new(false),
            };
            let pending = Arc::clone(&pending);
            tokio::spawn(async move {
                let connection = async move {
                    match tls {
                        None => serve_connection(tcp, service).await,
                        Some(acceptor) => {
                            if let Ok(Ok(stream)) =
                                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                            {
                                serve_connection(stream, service).await;
                            }
                        }
                    }
                };
                // Dropping the connection's future closes its socket.
                tokio::select! {
                    _ = connection => {}
                    _ = evicted.notified() => {}
                }
                pending.remove(id);
                drop(permit);
            });
        }
    }
}

/// The connections that have not sent a complete request head yet, oldest first.
#[derive(Default)]
struct Pending {
    inner: Mutex<PendingInner>,
}

#[derive(Default)]
struct PendingInner {
    next_id: u64,
    conns: VecDeque<(u64, Arc<Notify>)>,
}

impl Pending {
    /// A new connection: its id and what tells it it was dropped for a newer one.
    fn register(&self) -> (u64, Arc<Notify>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let id = inner.next_id;
        inner.next_id += 1;
        let evicted = Arc::new(Notify::new());
        inner.conns.push_back((id, Arc::clone(&evicted)));
        while inner.conns.len() > MAX_PENDING {
            if let Some((_, oldest)) = inner.conns.pop_front() {
                // notify_one keeps the permit if the task is not waiting yet.
                oldest.notify_one();
            }
        }
        (id, evicted)
    }

    fn remove(&self, id: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.conns.retain(|(i, _)| *i != id);
    }
}

/// The router, telling `Pending` when its connection's first request head is complete
/// (hyper calls the service only then).
struct HeadSeen {
    inner: TowerToHyperService<Router>,
    pending: Arc<Pending>,
    id: u64,
    seen: AtomicBool,
}

impl<B> hyper::service::Service<hyper::Request<B>> for HeadSeen
where
    TowerToHyperService<Router>: hyper::service::Service<hyper::Request<B>>,
{
    type Response =
        <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<B>>>::Response;
    type Error = <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<B>>>::Error;
    type Future =
        <TowerToHyperService<Router> as hyper::service::Service<hyper::Request<B>>>::Future;

    fn call(&self, request: hyper::Request<B>) -> Self::Future {
        if !self.seen.swap(true, Ordering::Relaxed) {
            self.pending.remove(self.id);
        }
        self.inner.call(request)
    }
}

async fn serve_connection<S>(stream: S, service: HeadSeen)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
