//! Running the server: [`serve`] on a listener until a shutdown future completes, then
//! store every accepted message; [`ServerHandle`] runs it on a background thread (tests,
//! embedding); [`shutdown_signal`] waits for Ctrl-C or SIGTERM.
//!
//! Shutdown order: stop accepting connections, let in-flight requests finish (their
//! messages are accepted), then [`Ingest::close`](super::Ingest::close) stores every
//! accepted message and syncs the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{oneshot, Semaphore};
use tower::ServiceExt;

use super::app::{build_app, AppState};
use crate::error::{Error, Result};

fn io_err(what: &str, e: std::io::Error) -> Error {
    Error::Io {
        path: what.into(),
        source: e,
    }
}

/// Serve `state` on `listener` until `shutdown` completes, then store everything
/// accepted.
///
/// Each connection is served by hyper's HTTP/1.1 server with a header-read timeout
/// ([`ServerConfig::header_timeout`](super::ServerConfig::header_timeout)) that also
/// bounds the idle time of a keep-alive connection, so clients trickling headers or
/// holding idle sockets are cut without starving others; at most
/// [`ServerConfig::max_connections`](super::ServerConfig::max_connections) are served at
/// once. On shutdown, idle connections close at once and in-flight requests get
/// [`ServerConfig::shutdown_grace`](super::ServerConfig::shutdown_grace) to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = build_app(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.header_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(state.config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Per-connection errors (reset before accept) and resource exhaustion
                // (EMFILE): back off briefly instead of spinning or exiting.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(Body::new))
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout, bad framing): nothing to do.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(state.config.shutdown_grace, graceful.shutdown()).await;
    let ingest = state.ingest.clone();
    tokio::task::spawn_blocking(move || ingest.close())
        .await
        .map_err(|e| Error::storage(format!("flush task failed: {e}")))?
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Build a multi-threaded runtime, bind `addr`, call `ready` with the bound address,
/// serve until Ctrl-C / SIGTERM, store everything accepted, return.
pub fn run_until_signal(state: AppState, addr: &str, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| io_err("tokio runtime", e))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| io_err(addr, e))?;
        let local = listener.local_addr().map_err(|e| io_err(addr, e))?;
        ready(local);
        serve(listener, state, shutdown_signal()).await
    })
}

/// A server running on a background thread.
///
/// ```
/// use std::sync::Arc;
/// use churn_core::server::{AppState, ServerConfig, ServerHandle};
/// use churn_core::store::MemoryStore;
/// let state = AppState::from_store(Arc::new(MemoryStore::new()), ServerConfig::default())?;
/// let server = ServerHandle::start(state, "127.0.0.1:0")?;
/// assert_ne!(server.addr().port(), 0);
/// server.shutdown()?;
/// # Ok::<(), churn_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl ServerHandle {
    /// Bind `addr` (port 0 picks a free one) and serve on a new thread.
    pub fn start(state: AppState, addr: &str) -> Result<ServerHandle> {
        let std_listener = std::net::TcpListener::bind(addr).map_err(|e| io_err(addr, e))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| io_err(addr, e))?;
        let local = std_listener.local_addr().map_err(|e| io_err(addr, e))?;
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("churnlens-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| io_err("tokio runtime", e))?;
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .map_err(|e| io_err("listener", e))?;
                    serve(listener, state, async {
                        let _ = rx.await;
                    })
                    .await
                })
            })
            .map_err(|e| io_err("server thread", e))?;
        Ok(ServerHandle {
            addr: local,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, finish in-flight requests, store everything accepted, and wait.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| Error::storage("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
