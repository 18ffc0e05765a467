//! The connections to one server: idle HTTP/1.1 connections kept alive,
//! and HTTP/2 connections shared by many requests at once.
//!
//! Written here rather than taken from hyper-util's legacy client because the
//! proxy must know whether a connection exists *before* it hands over the
//! request: a request whose connection could not be made is retried on
//! another server with its body untouched, whatever its method.
//!
//! - HTTP/1.1: one request at a time per connection, on our own client
//!   (`http1/`), driven by the request's task; idle connections are
//!   reused last-in first-out (the warmest first), dropped when idle longer
//!   than the backend's `idle_timeout`; at most `max_idle_per_server` kept.
//!   Nobody polls an idle connection: one the server closed meanwhile is
//!   found at checkout by a read that does not wait, and passed over; the
//!   proxy closes those unused for `idle_timeout` every second
//!   (`close_expired`).
//! - HTTP/2: a connection carries up to `h2_max_streams` requests at once;
//!   past it, or when the server sent GOAWAY, a new connection is opened.
//!   A connection with no stream open for `idle_timeout` is closed.
//! - With `protocol = "auto"` a new TLS connection's ALPN decides which of
//!   the two it becomes. Upgrades (WebSocket) always get a new HTTP/1.1
//!   connection of their own, never pooled.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio_util::sync::CancellationToken;

use super::connect::{Connected, Connector, Purpose};
use super::error::{ExchangeError, UpstreamError};
use super::http1::{Framing, Http1Connection, Http1Error};
use crate::body::RequestBody;
use crate::config::{BackendConfig, UpstreamProtocol};
use crate::fields::Fields;
use crate::in_place::pinned_box;
use crate::tls::UpstreamTls;

/// The sending half of a connection.
#[derive(Debug)]
pub enum Sender {
    /// An HTTP/1.1 connection of our own client: one request at a time,
    /// driven by the request's task. Boxed: a response carries its
    /// connection, and a pointer is cheaper to move along with it.
    Http1(Box<Http1Connection>),
    /// A share of an HTTP/2 connection.
    Http2(http2::SendRequest<RequestBody>),
    /// An HTTP/1.1 connection for an upgrade, on hyper's client (which
    /// hands over the connection after a 101).
    Upgrade(http1::SendRequest<RequestBody>),
}

/// A response head, its body still to come from the connection.
pub enum Incoming {
    /// From hyper's client (HTTP/2, upgrades).
    Hyper(hyper::body::Incoming),
    /// From our HTTP/1.1 client: read from the connection by this
    /// framing; with the head's fields until they are taken (see
    /// [`Fields`]).
    Http1(Framing, Fields),
}

/// A request that could not be sent, and whether none of it was.
pub struct TrySendError {
    error: ExchangeError,
    unsent: bool,
}

impl TrySendError {
    /// Whether none of the request was written: it is in the caller's
    /// hands as it was, and may go on another connection.
    pub fn unsent(&self) -> bool {
        self.unsent
    }

    /// Whether no response head came within the timeout.
    pub fn timed_out(&self) -> bool {
        matches!(self.error, ExchangeError::TimedOut(_))
    }

    /// Why.
    pub fn into_error(self) -> ExchangeError {
        self.error
    }
}

impl Sender {
    /// HTTP/2.
    pub fn is_http2(&self) -> bool {
        matches!(self, Sender::Http2(_))
    }

    /// Our HTTP/1.1 client, which leaves a request's head in the caller's
    /// hands (see [`Sender::try_send_request`]).
    pub fn is_http1(&self) -> bool {
        matches!(self, Sender::Http1(_))
    }

    /// Sends `request`. It stays the caller's: our HTTP/1.1 client writes
    /// its head from it and takes its body as it sends it; hyper takes it
    /// whole and, when it could not send it, hands it back into `request`.
    /// So after an unsent failure `request` is as it was, and after an
    /// HTTP/1.1 exchange its head is still there (the proxy keeps it for a
    /// retry without copying it first).
    ///
    /// A response head must come within `timeout`, else the error says
    /// it timed out ([`TrySendError::timed_out`]); our HTTP/1.1 client
    /// keeps that clock with the connection, for hyper's it is one per
    /// request.
    pub async fn try_send_request(
        &mut self,
        request: &mut http::Request<RequestBody>,
        timeout: Duration,
    ) -> Result<http::Response<Incoming>, TrySendError> {
        let take = |request: &mut http::Request<RequestBody>| {
            std::mem::replace(request, http::Request::new(RequestBody::Empty))
        };
        let timed_out = || TrySendError {
            error: ExchangeError::TimedOut(timeout),
            unsent: false,
        };
        let hyper_result = match self {
            Sender::Http1(connection) => {
                return match connection.send(request, timeout).await {
                    Ok(response) => Ok(response.map(|(framing, fields)| Incoming::Http1(framing, fields))),
                    Err(failed) if matches!(failed.error, Http1Error::TimedOut(_)) => Err(timed_out()),
                    Err(failed) => Err(TrySendError {
                        error: ExchangeError::Http1(failed.error),
                        unsent: failed.unsent,
                    }),
                }
            }
            // Boxed: hyper's sends would otherwise size this future, and
            // every future holding it, for the HTTP/1.1 ones too.
            Sender::Http2(sender) => {
                pinned_box(|| tokio::time::timeout(timeout, sender.try_send_request(take(request)))).await
            }
            Sender::Upgrade(sender) => {
                pinned_box(|| tokio::time::timeout(timeout, sender.try_send_request(take(request)))).await
            }
        };
        let Ok(hyper_result) = hyper_result else {
            return Err(timed_out());
        };
        match hyper_result {
            Ok(response) => Ok(response.map(Incoming::Hyper)),
            Err(mut failed) => {
                let unsent = match failed.take_message() {
                    Some(message) => {
                        *request = message;
                        true
                    }
                    None => false,
                };
                Err(TrySendError {
                    error: ExchangeError::Hyper(failed.into_error()),
                    unsent,
                })
            }
        }
    }
}

/// The keep-alive connections to one server.
#[derive(Debug)]
pub struct ConnectionPool {
    address: SocketAddr,
    /// The server's host as configured (its default TLS name).
    host: Option<String>,
    /// The backend's pool settings and the connections, under one
    /// short-held lock (a reload may change the settings).
    state: Mutex<PoolState>,
    /// Connections opened so far (tests use it to prove reuse).
    connects: AtomicU64,
    /// Held while a connection that may speak HTTP/2 is being opened, so
    /// requests arriving meanwhile wait to share it instead of each
    /// opening their own.
    opening: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct PoolState {
    settings: PoolSettings,
    idle: Vec<Idle>,
    shared: Vec<Multiplexed>,
    /// With `protocol = "auto"`: whether the last connection's ALPN chose
    /// HTTP/2.
    speaks_http2: Option<bool>,
}

impl PoolState {
    /// The idle connections past `idle_timeout` at `now`, taken out (the
    /// oldest are first: connections are pushed as they come back).
    fn take_expired(&mut self, now: Instant) -> Vec<Idle> {
        let idle_timeout = self.settings.idle_timeout;
        let stale = self
            .idle
            .iter()
            .take_while(|idle| now.saturating_duration_since(idle.since) > idle_timeout)
            .count();
        self.idle.drain(..stale).collect()
    }
}

#[derive(Debug, Clone)]
struct PoolSettings {
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
    protocol: UpstreamProtocol,
    tls: Option<Arc<UpstreamTls>>,
    h2_max_streams: u32,
}

impl PoolSettings {
    fn of(backend: &BackendConfig, tls: Option<Arc<UpstreamTls>>) -> PoolSettings {
        PoolSettings {
            connect_timeout: backend.connect_timeout,
            idle_timeout: backend.idle_timeout,
            max_idle: backend.max_idle_per_server,
            protocol: backend.protocol,
            tls,
            h2_max_streams: backend.h2_max_streams,
        }
    }
}

#[derive(Debug)]
struct Idle {
    connection: Box<Http1Connection>,
    since: Instant,
    /// The worker whose runtime drives the connection: only its requests
    /// take it (another worker's would cross threads on every exchange).
    worker: usize,
}

/// An HTTP/2 connection and the requests it carries now.
#[derive(Debug)]
struct Multiplexed {
    sender: http2::SendRequest<RequestBody>,
    streams: Arc<Streams>,
    /// When its last stream ended (or it opened).
    last_used: Instant,
    /// The worker whose runtime drives it; only its requests share it.
    worker: usize,
}

/// An HTTP/2 connection's open streams, and whether its task has ended.
#[derive(Debug)]
struct Streams {
    open: AtomicU32,
    /// Cancelled when the connection's task has ended.
    ended: CancellationToken,
}

/// Holds one stream of an HTTP/2 connection until dropped.
#[derive(Debug)]
pub struct Stream(Arc<Streams>);

impl Stream {
    /// Cancelled when the stream's connection has ended, so a request
    /// whose stream hyper lost track of is not left waiting.
    pub fn connection_ended(&self) -> &CancellationToken {
        &self.0.ended
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection ready to carry one request.
#[derive(Debug)]
pub struct Connection {
    /// Sends the request on it.
    pub sender: Sender,
    /// Whether it was used before (a pooled connection may have been closed
    /// by the server just now; a fresh one was just made).
    pub reused: bool,
    /// For HTTP/2: the stream it holds.
    pub stream: Option<Stream>,
    /// Whether it goes back to the pool after its response (not an
    /// upgrade's: after a 101 it carries the tunnel).
    pub pooled: bool,
}

impl ConnectionPool {
    /// An empty pool for the server at `address` (written as `host`, if a
    /// name), with `backend`'s settings and TLS.
    pub fn new(
        address: SocketAddr,
        host: Option<String>,
        backend: &BackendConfig,
        tls: Option<Arc<UpstreamTls>>,
    ) -> ConnectionPool {
        ConnectionPool {
            address,
            host,
            state: Mutex::new(PoolState {
                settings: PoolSettings::of(backend, tls),
                idle: Vec::new(),
                shared: Vec::new(),
                speaks_http2: None,
            }),
            connects: AtomicU64::new(0),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    /// Takes new settings; pooled connections stay.
    pub fn reconfigure(&self, backend: &BackendConfig, tls: Option<Arc<UpstreamTls>>) {
        if let Ok(mut state) = self.state.lock() {
            state.settings = PoolSettings::of(backend, tls);
        }
    }

    fn settings(&self) -> Option<PoolSettings> {
        self.state.lock().ok().map(|s| s.settings.clone())
    }

    /// How to reach the server with the current settings.
    pub fn connector(&self) -> Connector {
        let settings = self.settings();
        let protocol = settings.as_ref().map_or(UpstreamProtocol::Http1, |s| s.protocol);
        let timeout = settings.as_ref().map_or(Duration::from_secs(5), |s| s.connect_timeout);
        let tls = settings.and_then(|s| s.tls).map(|tls| {
            let name = Connector::server_name(&tls, self.host.as_deref(), self.address);
            (tls, name)
        });
        Connector {
            address: self.address,
            protocol,
            tls,
            timeout,
        }
    }

    /// A connection for one request: a share of an HTTP/2 connection with
    /// room, else an idle HTTP/1.1 one, else a new one. An idle one's time
    /// is counted to `now` (the request's start, read once for it; one
    /// checked in since then counts as idle for no time).
    pub async fn checkout(&self, now: Instant) -> Result<Connection, UpstreamError> {
        if self.may_speak_http2() {
            return self.checkout_shared().await;
        }
        while let Some((mut idle, idle_timeout)) = self.pop() {
            if now.saturating_duration_since(idle.since) > idle_timeout || !idle.connection.is_alive() {
                continue;
            }
            return Ok(Connection {
                sender: Sender::Http1(idle.connection),
                reused: true,
                stream: None,
                pooled: true,
            });
        }
        // Boxed: a new connection's handshakes are a large future that a
        // pooled checkout would otherwise carry in every request's state.
        pinned_box(|| self.connect()).await
    }

    /// Whether the next connection may be HTTP/2.
    fn may_speak_http2(&self) -> bool {
        let Ok(state) = self.state.lock() else { return false };
        match state.settings.protocol {
            UpstreamProtocol::H2 | UpstreamProtocol::H2c => true,
            UpstreamProtocol::Http1 => false,
            UpstreamProtocol::Auto => state.settings.tls.is_some() && state.speaks_http2 != Some(false),
        }
    }

    /// A stream on a shared connection; one connection is opened at a
    /// time, and requests that arrive meanwhile wait for it and share it.
    async fn checkout_shared(&self) -> Result<Connection, UpstreamError> {
        if let Some(connection) = self.share() {
            return Ok(connection);
        }
        // In line behind whoever is opening one: it may have room for us.
        let _opener = self.opening.lock().await;
        if let Some(connection) = self.share() {
            return Ok(connection);
        }
        // Boxed: a new connection's handshakes are a large future that a
        // pooled checkout would otherwise carry in every request's state.
        pinned_box(|| self.connect()).await
    }

    /// A new HTTP/1.1 connection for an upgrade, never pooled: after a 101
    /// it carries the tunnel.
    pub async fn connect_for_upgrade(&self) -> Result<Connection, UpstreamError> {
        let connected = self.connector().connect(Purpose::Upgrade).await?;
        self.connects.fetch_add(1, Ordering::Relaxed);
        let address = self.address;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(connected.transport))
            .await
            .map_err(|source| UpstreamError::Handshake { address, source })?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%address, error = %crate::report::Report(&error), "upstream connection ended with an error");
            }
        });
        Ok(Connection {
            sender: Sender::Upgrade(sender),
            reused: false,
            stream: None,
            pooled: false,
        })
    }

    /// Returns an HTTP/1.1 connection after its response has been read to
    /// the end (kept only when its response allowed reuse).
    pub fn checkin(&self, connection: Box<Http1Connection>) {
        if !connection.may_reuse() {
            return;
        }
        let now = Instant::now();
        let expired: Vec<Idle> = {
            let Ok(mut state) = self.state.lock() else { return };
            // Nobody polls an idle connection, so the oldest ones past
            // `idle_timeout` are dropped here (outside the lock), rather
            // than only when a checkout comes to them.
            let expired = state.take_expired(now);
            if state.idle.len() < state.settings.max_idle {
                state.idle.push(Idle {
                    connection,
                    since: now,
                    worker: crate::worker::current(),
                });
            }
            expired
        };
        drop(expired);
    }

    /// Closes the idle HTTP/1.1 connections unused for longer than
    /// `idle_timeout`. Nobody polls an idle connection, so without this one
    /// the server closed would hold its socket until the next request to
    /// the server; the proxy runs it every second (`running.rs`).
    pub fn close_expired(&self) {
        let expired = match self.state.lock() {
            Ok(mut state) => state.take_expired(Instant::now()),
            Err(_) => return,
        };
        drop(expired);
    }

    /// Connections opened so far.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Idle HTTP/1.1 connections, for the admin view and tests.
    pub fn idle_count(&self) -> usize {
        self.state.lock().map(|s| s.idle.len()).unwrap_or(0)
    }

    /// Open HTTP/2 connections, for the admin view and tests.
    pub fn http2_connections(&self) -> usize {
        self.state.lock().map(|s| s.shared.len()).unwrap_or(0)
    }

    /// The warmest idle connection of this worker's (last in, first out),
    /// and the backend's `idle_timeout`.
    fn pop(&self) -> Option<(Idle, Duration)> {
        let mut state = self.state.lock().ok()?;
        let worker = crate::worker::current();
        let position = state.idle.iter().rposition(|idle| idle.worker == worker)?;
        Some((state.idle.remove(position), state.settings.idle_timeout))
    }

    /// A stream on an HTTP/2 connection with room; closed connections and
    /// ones idle past `idle_timeout` are dropped on the way.
    fn share(&self) -> Option<Connection> {
        let mut state = self.state.lock().ok()?;
        let (limit, idle_timeout) = (state.settings.h2_max_streams, state.settings.idle_timeout);
        state.shared.retain(|c| {
            let unused_too_long = c.streams.open.load(Ordering::Relaxed) == 0 && c.last_used.elapsed() > idle_timeout;
            !(c.sender.is_closed() || unused_too_long)
        });
        let worker = crate::worker::current();
        let chosen = state
            .shared
            .iter_mut()
            .find(|c| c.worker == worker && c.sender.is_ready() && c.streams.open.load(Ordering::Relaxed) < limit)?;
        chosen.streams.open.fetch_add(1, Ordering::Relaxed);
        chosen.last_used = Instant::now();
        Some(Connection {
            sender: Sender::Http2(chosen.sender.clone()),
            reused: true,
            stream: Some(Stream(Arc::clone(&chosen.streams))),
            pooled: true,
        })
    }

    async fn connect(&self) -> Result<Connection, UpstreamError> {
        let address = self.address;
        let Connected { transport, http2 } = self.connector().connect(Purpose::Requests).await?;
        self.connects.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut state) = self.state.lock() {
            state.speaks_http2 = Some(http2);
        }
        if !http2 {
            return Ok(Connection {
                sender: Sender::Http1(Box::new(Http1Connection::new(transport))),
                reused: false,
                stream: None,
                pooled: true,
            });
        }
        let io = TokioIo::new(transport);
        let (sender, connection) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(20))
            .handshake(io)
            .await
            .map_err(|source| UpstreamError::Handshake { address, source })?;
        let streams = Arc::new(Streams {
            open: AtomicU32::new(1),
            ended: CancellationToken::new(),
        });
        let on_end = streams.ended.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%address, error = %crate::report::Report(&error), "upstream HTTP/2 connection ended with an error");
            }
            on_end.cancel();
        });
        if let Ok(mut state) = self.state.lock() {
            state.shared.push(Multiplexed {
                sender: sender.clone(),
                streams: Arc::clone(&streams),
                last_used: Instant::now(),
                worker: crate::worker::current(),
            });
        }
        Ok(Connection {
            sender: Sender::Http2(sender),
            reused: false,
            stream: Some(Stream(streams)),
            pooled: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

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
        ConnectionPool::new(address, None, &config.backends[0], None)
    }

    /// One request on `connection`, its body read to the end (as the proxy
    /// does before a connection goes back).
    async fn exchange(connection: &mut Connection) {
        let mut request = http::Request::new(RequestBody::Empty);
        *request.uri_mut() = http::Uri::from_static("/");
        request
            .headers_mut()
            .insert(http::header::HOST, http::HeaderValue::from_static("test"));
        let response = match connection
            .sender
            .try_send_request(&mut request, std::time::Duration::from_secs(30))
            .await
        {
            Ok(response) => response,
            Err(failed) => panic!("no response: {}", failed.into_error()),
        };
        let (Incoming::Http1(mut framing, _), Sender::Http1(connection)) =
            (response.into_body(), &mut connection.sender)
        else {
            panic!("an HTTP/1.1 test");
        };
        while let Some(frame) = std::future::poll_fn(|cx| connection.poll_body(cx, &mut framing)).await {
            frame.expect("body");
        }
    }

    fn checkin(pool: &ConnectionPool, connection: Connection) {
        match connection.sender {
            Sender::Http1(connection) => pool.checkin(connection),
            _ => panic!("an HTTP/1.1 test"),
        }
    }

    #[tokio::test]
    async fn a_connection_is_reused_once_its_response_was_read() {
        let (address, accepted) = origin(false).await;
        let pool = pool(address, "");
        for round in 0..5 {
            let mut connection = pool.checkout(Instant::now()).await.expect("connection");
            assert_eq!(connection.reused, round > 0, "round {round}");
            exchange(&mut connection).await;
            checkin(&pool, connection);
        }
        assert_eq!(pool.connects(), 1, "one connection carried five requests");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the server saw one");
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn idle_connections_expire_and_are_capped() {
        let (address, _) = origin(false).await;
        let pool = pool(address, "idle_timeout = \"50ms\"\nmax_idle_per_server = 1");
        let mut first = pool.checkout(Instant::now()).await.expect("connection");
        let mut second = pool.checkout(Instant::now()).await.expect("connection");
        exchange(&mut first).await;
        exchange(&mut second).await;
        checkin(&pool, first);
        checkin(&pool, second);
        assert_eq!(pool.idle_count(), 1, "max_idle_per_server = 1 keeps one");
        tokio::time::sleep(Duration::from_millis(120)).await;
        let fresh = pool.checkout(Instant::now()).await.expect("connection");
        assert!(!fresh.reused, "the idle one outlived idle_timeout");
        assert_eq!(pool.connects(), 3);
    }

    /// An idle connection's time is counted to the start of the request
    /// that asks for it, not to the clock at checkout.
    #[tokio::test]
    async fn an_idle_connection_is_timed_to_the_requests_start() {
        let (address, _) = origin(false).await;
        let pool = pool(address, "idle_timeout = \"50ms\"");
        let started = Instant::now();
        let mut connection = pool.checkout(started).await.expect("connection");
        exchange(&mut connection).await;
        checkin(&pool, connection);
        // A request that started before the connection came back finds it
        // idle for no time.
        let mut connection = pool.checkout(started).await.expect("connection");
        assert!(connection.reused);
        exchange(&mut connection).await;
        checkin(&pool, connection);
        // One whose start is past the idle timeout finds it expired, however
        // soon the clock would have been read.
        let later = Instant::now() + Duration::from_millis(120);
        let fresh = pool.checkout(later).await.expect("connection");
        assert!(!fresh.reused, "idle for 120 ms at the request's start");
        assert_eq!(pool.connects(), 2);
    }

    #[tokio::test]
    async fn stale_idle_connections_are_dropped_when_another_comes_back() {
        let (address, _) = origin(false).await;
        let pool = pool(address, "idle_timeout = \"50ms\"");
        let mut connections = Vec::new();
        for _ in 0..3 {
            connections.push(pool.checkout(Instant::now()).await.expect("connection"));
        }
        for connection in &mut connections {
            exchange(connection).await;
        }
        let last = connections.pop().expect("three");
        for connection in connections {
            checkin(&pool, connection);
        }
        assert_eq!(pool.idle_count(), 2);
        tokio::time::sleep(Duration::from_millis(120)).await;
        // Nobody polls idle connections: the two past idle_timeout go
        // when the next one is checked in, not only at a checkout.
        checkin(&pool, last);
        assert_eq!(pool.idle_count(), 1, "the stale two were dropped");
        tokio::time::sleep(Duration::from_millis(120)).await;
        pool.close_expired();
        assert_eq!(pool.idle_count(), 0, "and the last one by the sweep");
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_kept() {
        let (address, accepted) = origin(true).await;
        let pool = pool(address, "");
        for _ in 0..3 {
            let mut connection = pool.checkout(Instant::now()).await.expect("connection");
            assert!(!connection.reused);
            exchange(&mut connection).await;
            checkin(&pool, connection);
        }
        assert_eq!(pool.connects(), 3);
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        assert_eq!(pool.idle_count(), 0);
    }
}
