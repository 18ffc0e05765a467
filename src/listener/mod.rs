//! Accepting clients: one task per listener accepts connections within the
//! global and per-listener connection limits (at a limit the connection
//! just accepted waits for room and the next ones wait in the kernel's
//! queue; a listener waiting for clients holds no room), and each
//! connection is served by `connection.rs`.
//!
//! Shutdown drains: the listener stops accepting (taking what the kernel
//! already queued), HTTP/2 connections get GOAWAY at once, HTTP/1.1
//! responses carry `Connection: close` so clients move to another process,
//! idle HTTP/1.1 connections are closed after a moment, and whatever is
//! still open when the grace period ends is dropped.
//!
//! A handover (`handover_delay`, before a planned stop) comes first: the
//! listener keeps accepting, but every HTTP/1.1 response closes its
//! connection, and the connections open when it began are drained as
//! above (idle ones closed after `HANDOVER_IDLE`), so when the virtual IP
//! moves to the other node no client is left holding a connection to this
//! one.

mod bind;
mod connection;
mod h2_writes;
mod http1;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use bind::{bind_reusable, bind_reusable_std};
use connection::Connection;

use crate::config::ListenerLimits;
use crate::log_throttle::ThrottledLog;
use crate::plugin::{ConnectionInfo, Scheme};
use crate::proxy::Proxy;

/// During a drain, how long idle HTTP/1.1 connections are given to send one
/// last request (answered with `Connection: close`) before they are closed.
const IDLE_DRAIN: Duration = Duration::from_secs(1);

/// At a handover, the same, shorter: busy keep-alive clients send their
/// next request within it (and are told to close), idle ones are closed
/// before keepalived (checking every second) moves the virtual IP.
const HANDOVER_IDLE: Duration = Duration::from_millis(250);

/// A bound listener ready to serve.
pub struct Listener {
    /// The listener's name, in logs and metrics.
    pub name: Arc<str>,
    /// The bound listening socket.
    pub socket: TcpListener,
    /// The TLS handshake, on a TLS listener.
    pub tls: Option<TlsAcceptor>,
    /// What the listener accepts from clients.
    pub limits: ListenerLimits,
    /// Connections of every listener together.
    pub global_connections: Arc<Semaphore>,
    /// How long a drain lets open connections finish.
    pub shutdown_grace: Duration,
    /// Throttles the "limit reached" warning.
    pub full: ThrottledLog,
}

/// Per-listener state every connection shares.
pub(crate) struct Shared {
    pub proxy: Arc<Proxy>,
    pub tls: Option<TlsAcceptor>,
    /// Set when shutdown starts: HTTP/1.1 responses then close their
    /// connection.
    pub draining: AtomicBool,
    /// The listener's open-connections gauge.
    pub open_connections: prometheus_client::metrics::gauge::Gauge,
}

impl Listener {
    /// The address the socket is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Accepts until `shutdown` fires, then drains (see the module doc).
    pub async fn serve(self, proxy: Arc<Proxy>, shutdown: CancellationToken) {
        let local_connections = self.limits.max_connections.map(|n| Arc::new(Semaphore::new(n)));
        let shared = Arc::new(Shared {
            proxy,
            tls: self.tls.clone(),
            draining: AtomicBool::new(false),
            open_connections: crate::metrics::ListenerMetrics::new(&self.name).open_connections,
        });
        let mut h1 = GracefulShutdown::new();
        let mut h2 = GracefulShutdown::new();
        // Tells our own HTTP/1.1 server's connections of a drain, as `h1`
        // tells hyper's.
        let mut h1_closing = http1::DrainSignal::default();
        let handover = shared.proxy.handover_started();
        tokio::pin!(handover);
        // The connections open when a handover began, draining.
        let mut handed_over: Option<tokio::task::JoinHandle<()>> = None;
        let scheme = if self.tls.is_some() {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let accepted_here = crate::metrics::metrics()
            .worker_connections
            .get_or_create(&crate::metrics::WorkerLabels {
                worker: crate::worker::current().to_string(),
            })
            .clone();
        let mut backoff = Duration::from_millis(5);
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = &mut handover, if handed_over.is_none() => {
                    shared.draining.store(true, Ordering::Relaxed);
                    let old = (
                        std::mem::replace(&mut h1, GracefulShutdown::new()),
                        std::mem::replace(&mut h2, GracefulShutdown::new()),
                        std::mem::take(&mut h1_closing),
                    );
                    handed_over = Some(tokio::spawn(async move {
                        let (old_h1, old_h2, old_closing) = old;
                        tokio::join!(old_h2.shutdown(), async {
                            if old_h1.count() > 0 {
                                tokio::time::sleep(HANDOVER_IDLE).await;
                            }
                            old_closing.give();
                            old_h1.shutdown().await;
                        });
                    }));
                    continue;
                }
                accepted = self.socket.accept() => accepted,
            };
            match accepted {
                Ok((stream, client)) => {
                    backoff = Duration::from_millis(5);
                    accepted_here.inc();
                    // Permits are taken after accepting: a listener waiting
                    // for its next client holds none, so the global limit
                    // is shared by what is open, not by who listens. At the
                    // limit, this one waits here and the rest in the
                    // kernel's queue.
                    let permits = tokio::select! {
                        _ = shutdown.cancelled() => {
                            self.spawn(stream, client, scheme, Vec::new(), &shared, (&h1, &h1_closing), &h2);
                            break;
                        }
                        permits = self.permits(local_connections.as_ref()) => permits,
                    };
                    let Some(permits) = permits else { break };
                    self.spawn(stream, client, scheme, permits, &shared, (&h1, &h1_closing), &h2);
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(listener = %self.name, %error, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
        // Take what the kernel already queued for us before closing.
        while let Ok(Some((stream, client))) = try_accept(&self.socket) {
            self.spawn(stream, client, scheme, Vec::new(), &shared, (&h1, &h1_closing), &h2);
        }
        drop(self.socket);
        shared.draining.store(true, Ordering::Relaxed);
        let drained = async {
            tokio::join!(
                h2.shutdown(),
                async {
                    // Idle keep-alive clients get a moment for one last
                    // request; with none open there is nothing to wait for.
                    if h1.count() > 0 {
                        tokio::time::sleep(IDLE_DRAIN).await;
                    }
                    h1_closing.give();
                    h1.shutdown().await;
                },
                async {
                    if let Some(old) = handed_over {
                        let _ = old.await;
                    }
                }
            );
        };
        tokio::select! {
            _ = drained => {}
            _ = tokio::time::sleep(self.shutdown_grace) => {
                tracing::warn!(listener = %self.name, "connections still open after the grace period; closing them");
            }
        }
    }

    /// Waits for room under both connection limits.
    async fn permits(&self, local: Option<&Arc<Semaphore>>) -> Option<Vec<OwnedSemaphorePermit>> {
        let mut permits = Vec::with_capacity(2);
        for limit in std::iter::once(&self.global_connections).chain(local) {
            let permit = match Arc::clone(limit).try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    if let Some(times) = self.full.tick() {
                        tracing::warn!(listener = %self.name, times, "max_connections reached: new connections wait until one closes");
                    }
                    Arc::clone(limit).acquire_owned().await.ok()?
                }
            };
            permits.push(permit);
        }
        Some(permits)
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &self,
        stream: TcpStream,
        client: SocketAddr,
        scheme: Scheme,
        permits: Vec<OwnedSemaphorePermit>,
        shared: &Arc<Shared>,
        h1: (&GracefulShutdown, &http1::DrainSignal),
        h2: &GracefulShutdown,
    ) {
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let info = Arc::new(ConnectionInfo::new(client, local, scheme, Arc::clone(&self.name)));
        // The current generation's limits: a reload applies to new
        // connections (max_connections excepted, fixed at start).
        let limits = shared
            .proxy
            .generation()
            .listeners
            .get(&*self.name)
            .map_or_else(|| self.limits.clone(), |route| route.limits.clone());
        let connection = Connection {
            stream,
            info,
            shared: Arc::clone(shared),
            limits,
            permits,
            open: crate::metrics::OpenConnection::new(&shared.open_connections),
        };
        let h1 = http1::Drain {
            watcher: h1.0.watcher(),
            closing: h1.1.clone(),
        };
        tokio::spawn(connection.serve(h1, h2.watcher()));
    }
}

/// A connection already queued, without waiting for one.
fn try_accept(socket: &TcpListener) -> std::io::Result<Option<(TcpStream, SocketAddr)>> {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match socket.poll_accept(&mut context) {
        std::task::Poll::Ready(accepted) => accepted.map(Some),
        std::task::Poll::Pending => Ok(None),
    }
}
