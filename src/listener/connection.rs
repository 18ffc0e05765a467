//! One client connection: TLS (with a handshake timeout), the protocol
//! (ALPN on TLS; on plain listeners the HTTP/2 preface, peeked), then
//! HTTP/1.1 (our own server for plain requests, `http1/`, handing the
//! connection to hyper's at the first that is not) or hyper's HTTP/2
//! server, with the listener's limits:
//!
//! - HTTP/1.1: `header_read_timeout` (a slow or idle client is closed),
//!   `max_header_bytes` and `max_headers` (431 when exceeded); malformed
//!   heads get 400 from hyper's parser;
//! - HTTP/2: `h2_max_streams` concurrent streams, `max_header_bytes` of
//!   header list, bounded pending and locally-errored resets (the "rapid
//!   reset" attack), keep-alive pings.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderValue, Response, Version};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use tracing::Instrument;

use super::h2_writes::PlainWrites;
use super::http1::{self, Drain};
use super::Shared;
use crate::body::BoxError;
use crate::config::ListenerLimits;
use crate::plugin::ConnectionInfo;
use crate::proxy::ProxyBody;
use crate::report::Report;

/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub(super) struct Connection {
    pub stream: TcpStream,
    pub info: Arc<ConnectionInfo>,
    pub shared: Arc<Shared>,
    pub limits: ListenerLimits,
    /// Held for the connection's life: its place under the limits.
    pub permits: Vec<OwnedSemaphorePermit>,
    /// Counts the connection as open until it is dropped.
    pub open: crate::metrics::OpenConnection,
}

impl Connection {
    /// Serves the connection to its end, in its own span:
    /// `connection{client listener}` (each request's span is its child).
    pub async fn serve(self, h1: Drain, h2: Watcher) {
        let span = tracing::info_span!("connection", client = %self.info.client, listener = %self.info.listener);
        self.serve_in_span(h1, h2).instrument(span).await;
    }

    async fn serve_in_span(self, h1: Drain, h2: Watcher) {
        let _ = self.stream.set_nodelay(true);
        let Connection {
            stream,
            info,
            shared,
            limits,
            permits: _permits,
            open: _open,
        } = self;
        let result = match &shared.tls {
            None => match speaks_h2(&stream, limits.header_read_timeout).await {
                Some(true) => serve_h2(TokioIo::new(PlainWrites(stream)), &shared, &limits, &info, h2).await,
                Some(false) => http1::serve(stream, &shared, &limits, &info, h1).await,
                None => return,
            },
            Some(acceptor) => {
                let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(error = %Report(&error), "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!("TLS handshake timed out");
                        return;
                    }
                };
                let tls = stream.get_ref().1;
                let h2_negotiated = tls.alpn_protocol() == Some(b"h2");
                // What plugins may ask about the handshake.
                let info = Arc::new(
                    ConnectionInfo::new(info.client, info.local, info.scheme, Arc::clone(&info.listener))
                        .with_tls(tls.server_name(), tls.alpn_protocol()),
                );
                if h2_negotiated {
                    serve_h2(TokioIo::new(PlainWrites(stream)), &shared, &limits, &info, h2).await
                } else {
                    http1::serve(stream, &shared, &limits, &info, h1).await
                }
            }
        };
        if let Err(error) = result {
            tracing::debug!(error = %Report(&*error), "connection ended with an error");
        }
    }
}

/// On a plain listener, whether the client opens with the HTTP/2 preface;
/// `None` if it closes or sends nothing in time.
async fn speaks_h2(stream: &TcpStream, timeout: Duration) -> Option<bool> {
    let mut buf = [0u8; 24];
    let peeking = async {
        loop {
            let n = stream.peek(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            if buf[..n] != H2_PREFACE[..n] {
                return Some(false);
            }
            if n == H2_PREFACE.len() {
                return Some(true);
            }
            // A partial preface: wait for more bytes.
            stream.readable().await.ok()?;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(timeout, peeking).await.ok().flatten()
}

/// hyper's HTTP/1.1 server, for a connection our own (`http1`) hands over.
pub(super) async fn serve_h1<I>(
    io: TokioIo<I>,
    shared: &Arc<Shared>,
    limits: &ListenerLimits,
    info: &Arc<ConnectionInfo>,
    watcher: Watcher,
) -> Result<(), BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // hyper-util's auto builder, HTTP/1.1 only: its connection can both
    // hand itself over to an upgrade (WebSocket) and drain gracefully.
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers);
    let connection = builder.serve_connection_with_upgrades(io, service(shared, info));
    watcher.watch(connection).await
}

async fn serve_h2<I>(
    io: TokioIo<I>,
    shared: &Arc<Shared>,
    limits: &ListenerLimits,
    info: &Arc<ConnectionInfo>,
    watcher: Watcher,
) -> Result<(), BoxError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // WebSocket over HTTP/2 (RFC 8441).
        .enable_connect_protocol()
        .max_pending_accept_reset_streams(Some(100))
        .max_local_error_reset_streams(Some(1024))
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    let connection = builder.serve_connection(io, service(shared, info));
    watcher.watch(connection).await.map_err(BoxError::from)
}

/// The proxy as a hyper service for one connection. Each request runs in
/// the connection's span (HTTP/2 streams are spawned as tasks of their own,
/// so they are given it explicitly).
fn service(
    shared: &Arc<Shared>,
    info: &Arc<ConnectionInfo>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = Response<ProxyBody>,
    Error = Infallible,
    Future: Send + 'static,
> + Send
       + 'static {
    let (shared, info) = (Arc::clone(shared), Arc::clone(info));
    let span = tracing::Span::current();
    service_fn(move |request: http::Request<Incoming>| {
        let (shared, info) = (Arc::clone(&shared), Arc::clone(&info));
        // Boxed first, then instrumented: the request's whole state machine
        // (kilobytes) is built in the box, and hyper and the span move a
        // pointer.
        crate::in_place::pinned_box(|| async move {
            Ok::<_, Infallible>(proxy_request(&shared, info, request.map(Some)).await)
        })
        .instrument(span.clone())
    })
}

/// The proxy's answer to one request, for hyper's servers (HTTP/2, and
/// HTTP/1.1 connections handed to hyper; our own server does the same
/// inline). While draining, an HTTP/1.x response closes its connection:
/// the client should take its next request elsewhere.
pub(super) async fn proxy_request(
    shared: &Shared,
    info: Arc<ConnectionInfo>,
    request: http::Request<Option<Incoming>>,
) -> Response<ProxyBody> {
    let version = request.version();
    let mut response = shared.proxy.handle(request, info, Instant::now()).await.response;
    // hyper writes the map.
    crate::proxy::fields_into_map(&mut response);
    if version <= Version::HTTP_11 {
        close_if_draining(shared, &mut response);
    }
    response
}

/// While draining, marks an HTTP/1 response as its connection's last.
pub(super) fn close_if_draining(shared: &Shared, response: &mut Response<ProxyBody>) {
    if shared.draining.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
}
