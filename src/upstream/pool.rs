//! Keep-alive HTTP/1.1 connections to one server.
//!
//! Written here rather than taken from hyper-util's legacy client because the
//! proxy must know whether a connection exists *before* it hands over the
//! request: a request whose connection could not be made is retried on
//! another server with its body untouched, whatever its method.
//! Connections are reused last-in first-out (the warmest first), dropped
//! when idle longer than the backend's `idle_timeout`, and at most
//! `max_idle_per_server` are kept.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::error::UpstreamError;
use crate::body::RequestBody;
use crate::config::BackendConfig;

/// The sending half of a pooled HTTP/1.1 connection.
pub type Sender = SendRequest<RequestBody>;

/// The keep-alive connections to one server.
#[derive(Debug)]
pub struct ConnectionPool {
    address: SocketAddr,
    /// The backend's pool settings and the idle connections, under one
    /// short-held lock (a reload may change the settings).
    state: Mutex<PoolState>,
    /// Connections opened so far (tests use it to prove reuse).
    connects: AtomicU64,
}

#[derive(Debug)]
struct PoolState {
    settings: PoolSettings,
    idle: Vec<Idle>,
}

#[derive(Debug, Clone, Copy)]
struct PoolSettings {
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
}

impl PoolSettings {
    fn of(backend: &BackendConfig) -> PoolSettings {
        PoolSettings {
            connect_timeout: backend.connect_timeout,
            idle_timeout: backend.idle_timeout,
            max_idle: backend.max_idle_per_server,
        }
    }
}

#[derive(Debug)]
struct Idle {
    sender: Sender,
    since: Instant,
}

/// A connection ready to carry one request.
pub struct Connection {
    /// Sends the request on it.
    pub sender: Sender,
    /// Whether it came from the pool (a pooled connection may have been
    /// closed by the server just now; a fresh one was just made).
    pub reused: bool,
}

impl ConnectionPool {
    /// An empty pool for the server at `address`, with `backend`'s settings.
    pub fn new(address: SocketAddr, backend: &BackendConfig) -> ConnectionPool {
        ConnectionPool {
            address,
            state: Mutex::new(PoolState {
                settings: PoolSettings::of(backend),
                idle: Vec::new(),
            }),
            connects: AtomicU64::new(0),
        }
    }

    /// Takes new settings; pooled connections stay.
    pub fn reconfigure(&self, backend: &BackendConfig) {
        if let Ok(mut state) = self.state.lock() {
            state.settings = PoolSettings::of(backend);
        }
    }

    fn settings(&self) -> Option<PoolSettings> {
        self.state.lock().ok().map(|s| s.settings)
    }

    /// A pooled connection if a live one is idle, else a new one.
    pub async fn checkout(&self) -> Result<Connection, UpstreamError> {
        while let Some((idle, settings)) = self.pop() {
            if idle.since.elapsed() > settings.idle_timeout || idle.sender.is_closed() {
                continue;
            }
            let mut sender = idle.sender;
            if sender.is_ready() {
                return Ok(Connection { sender, reused: true });
            }
            // Put back the moment its last response ended: it becomes ready
            // as soon as its connection task has seen that.
            if let Ok(Ok(())) = tokio::time::timeout(settings.connect_timeout, sender.ready()).await {
                return Ok(Connection { sender, reused: true });
            }
        }
        self.connect().await
    }

    /// Returns a connection after its response has been read to the end.
    pub fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut state) = self.state.lock() {
            if state.idle.len() < state.settings.max_idle {
                state.idle.push(Idle {
                    sender,
                    since: Instant::now(),
                });
            }
        }
    }

    /// Connections opened so far.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Idle connections, for the admin view and tests.
    pub fn idle_count(&self) -> usize {
        self.state.lock().map(|s| s.idle.len()).unwrap_or(0)
    }

    fn pop(&self) -> Option<(Idle, PoolSettings)> {
        let mut state = self.state.lock().ok()?;
        let settings = state.settings;
        state.idle.pop().map(|idle| (idle, settings))
    }

    async fn connect(&self) -> Result<Connection, UpstreamError> {
        let address = self.address;
        let connect_timeout = self.settings().map_or(Duration::from_secs(5), |s| s.connect_timeout);
        let stream = match tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(UpstreamError::Connect { address, source }),
            Err(_) => {
                return Err(UpstreamError::ConnectTimeout {
                    address,
                    after: connect_timeout,
                })
            }
        };
        self.connects.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| UpstreamError::Handshake { address, source })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%address, error = %crate::report::Report(&error), "upstream connection ended with an error");
            }
        });
        Ok(Connection { sender, reused: false })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::*;
    use crate::config::Config;

    /// A real HTTP/1.1 server counting the connections it accepted; with
    /// `close`, every response closes its connection.
    async fn origin(close: bool) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let service = hyper::service::service_fn(move |_| async move {
                    let mut response = http::Response::new(http_body_util::Full::new(bytes::Bytes::from("ok")));
                    if close {
                        response
                            .headers_mut()
                            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
                    }
                    Ok::<_, std::convert::Infallible>(response)
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        (address, accepted)
    }

    fn pool(address: SocketAddr, settings: &str) -> ConnectionPool {
        let text = format!(
            "[[listener]]\nname = \"l\"\nbind = \"127.0.0.1:0\"\ndefault_backend = \"b\"\n\
             [backend.b]\nservers = [{{ name = \"s\", address = \"{address}\" }}]\n{settings}\n"
        );
        let config = Config::parse(std::path::Path::new("t.toml"), &text).expect("valid");
        ConnectionPool::new(address, &config.backends[0])
    }

    /// One request on `connection`, its body read to the end (as the proxy
    /// does before a connection goes back).
    async fn exchange(connection: &mut Connection) {
        let mut request = http::Request::new(RequestBody::Empty);
        *request.uri_mut() = http::Uri::from_static("/");
        request
            .headers_mut()
            .insert(http::header::HOST, http::HeaderValue::from_static("test"));
        let response = connection.sender.send_request(request).await.expect("response");
        response.into_body().collect().await.expect("body");
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_was_read() {
        let (address, accepted) = origin(false).await;
        let pool = pool(address, "");
        for round in 0..5 {
            let mut connection = pool.checkout().await.expect("connection");
            assert_eq!(connection.reused, round > 0, "round {round}");
            exchange(&mut connection).await;
            pool.checkin(connection.sender);
        }
        assert_eq!(pool.connects(), 1, "one connection carried five requests");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the server saw one");
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn idle_connections_expire_and_are_capped() {
        let (address, _) = origin(false).await;
        let pool = pool(address, "idle_timeout = \"50ms\"\nmax_idle_per_server = 1");
        let mut first = pool.checkout().await.expect("connection");
        let mut second = pool.checkout().await.expect("connection");
        exchange(&mut first).await;
        exchange(&mut second).await;
        pool.checkin(first.sender);
        pool.checkin(second.sender);
        assert_eq!(pool.idle_count(), 1, "max_idle_per_server = 1 keeps one");
        tokio::time::sleep(Duration::from_millis(120)).await;
        let fresh = pool.checkout().await.expect("connection");
        assert!(!fresh.reused, "the idle one outlived idle_timeout");
        assert_eq!(pool.connects(), 3);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_kept() {
        let (address, accepted) = origin(true).await;
        let pool = pool(address, "");
        for _ in 0..3 {
            let mut connection = pool.checkout().await.expect("connection");
            assert!(!connection.reused);
            exchange(&mut connection).await;
            // Give hyper's connection task the moment to see the close.
            tokio::time::sleep(Duration::from_millis(20)).await;
            pool.checkin(connection.sender);
        }
        assert_eq!(pool.connects(), 3);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        assert_eq!(pool.idle_count(), 0);
    }
}
