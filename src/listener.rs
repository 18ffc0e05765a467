//! Accepting clients: one task per listener accepts connections, a task
//! per connection terminates TLS (if configured) and serves HTTP/1.1 or
//! HTTP/2 (by ALPN, or by the client's preface on plain listeners) with
//! [`Proxy::handle`] as the service.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::plugin::{ConnectionInfo, Scheme};
use crate::proxy::Proxy;

/// Time allowed for a TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for a client to send a whole request head (HTTP/1.1).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for open connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound listener ready to serve.
pub struct Listener {
    pub name: Arc<str>,
    pub socket: TcpListener,
    pub tls: Option<TlsAcceptor>,
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Accepts until `shutdown` fires, then lets open connections finish
    /// (idle HTTP/1.1 keep-alives are closed, HTTP/2 gets GOAWAY) for up to
    /// a grace period.
    pub async fn serve(self, proxy: Arc<Proxy>, shutdown: CancellationToken) {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        http.http2().timer(TokioTimer::new());
        let http = Arc::new(http);
        let graceful = GracefulShutdown::new();
        let scheme = if self.tls.is_some() {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let mut backoff = Duration::from_millis(5);
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.socket.accept() => accepted,
            };
            let (stream, client) = match accepted {
                Ok(pair) => {
                    backoff = Duration::from_millis(5);
                    pair
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(listener = %self.name, %error, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let local = stream
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            let conn = Arc::new(ConnectionInfo {
                client,
                local,
                scheme,
                listener: Arc::clone(&self.name),
            });
            let connection = Connection {
                stream,
                conn,
                tls: self.tls.clone(),
                http: Arc::clone(&http),
                proxy: Arc::clone(&proxy),
            };
            let watcher = graceful.watcher();
            tokio::spawn(connection.serve(watcher));
        }
        drop(self.socket);
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!(listener = %self.name, "connections still open after the grace period; closing them");
            }
        }
    }
}

struct Connection {
    stream: TcpStream,
    conn: Arc<ConnectionInfo>,
    tls: Option<TlsAcceptor>,
    http: Arc<auto::Builder<TokioExecutor>>,
    proxy: Arc<Proxy>,
}

impl Connection {
    async fn serve(self, watcher: hyper_util::server::graceful::Watcher) {
        let _ = self.stream.set_nodelay(true);
        let proxy = self.proxy;
        let conn = self.conn;
        let span = tracing::debug_span!("connection", client = %conn.client, listener = %conn.listener);
        let info = Arc::clone(&conn);
        let service = service_fn(move |request| {
            let proxy = Arc::clone(&proxy);
            let conn = Arc::clone(&info);
            async move { Ok::<_, Infallible>(proxy.handle(request, conn).await) }
        });
        let result = match self.tls {
            None => {
                let serving = self.http.serve_connection(TokioIo::new(self.stream), service);
                watcher.watch(serving.into_owned()).await
            }
            Some(acceptor) => {
                let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(self.stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => {
                        tracing::debug!(parent: &span, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(parent: &span, "TLS handshake timed out");
                        return;
                    }
                };
                let serving = self.http.serve_connection(TokioIo::new(stream), service);
                watcher.watch(serving.into_owned()).await
            }
        };
        if let Err(error) = result {
            tracing::debug!(parent: &span, %error, "connection ended with an error");
        }
    }
}
