//! A running proxy: listeners bound, health checks started, the current
//! generation published. `switchyard run`, `switchyard demo` and the tests
//! all start one of these.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::access_log::AccessLog;
use crate::config::{Config, Problem, ProblemList};
use crate::listener::{bind_reusable, Listener};
use crate::log_throttle::ThrottledLog;
use crate::plugin::PluginEngine;
use crate::prepare::prepare;
use crate::proxy::{Generation, Proxy};
use crate::reload::{spawn_watcher, CertificateSlot, Reloader};
use crate::tls::{server_config, CertificateStore, TlsError};
use crate::worker::{ListenerTemplate, WorkerError, WorkerListener, Workers};

/// Why a proxy did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration has problems (every one of them).
    #[error("the configuration has {} problem(s):\n{}", .0.len(), ProblemList(.0))]
    Problems(Vec<Problem>),
    /// Preparing the configuration panicked.
    #[error("preparing the configuration failed")]
    Prepare(#[source] tokio::task::JoinError),
    /// The first generation could not be assembled.
    #[error("the first generation could not be assembled")]
    Build(#[from] crate::proxy::MissingBalancer),
    /// The access log could not start.
    #[error("the access log could not start")]
    AccessLog(#[from] crate::access_log::AccessLogError),
    /// A listener's TLS settings were refused.
    #[error("listener \"{listener}\"")]
    Tls {
        /// The listener.
        listener: String,
        /// Why.
        #[source]
        source: Box<TlsError>,
    },
    /// An extra worker did not start.
    #[error("the workers did not start")]
    Worker(#[from] crate::worker::WorkerError),
    /// A listener (or the admin endpoint) cannot bind its address.
    #[error("listener \"{listener}\" cannot bind {address}")]
    Bind {
        /// The listener (`admin` for the admin endpoint).
        listener: String,
        /// Its address.
        address: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// A proxy serving: listeners bound, health checks and the watcher running.
pub struct RunningProxy {
    reloader: Arc<Reloader>,
    engine: Arc<PluginEngine>,
    listeners: Vec<(String, SocketAddr)>,
    admin: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    /// Workers 1..N (`workers`); this runtime is worker 0.
    workers: Workers,
}

impl RunningProxy {
    /// Prepares the configuration (every problem reported at once), binds
    /// every listener (and the admin endpoint), starts health checks and the
    /// file watcher, and serves.
    pub async fn start(config: Config, engine: Arc<PluginEngine>) -> Result<RunningProxy, StartError> {
        let config = Arc::new(config);
        let prepared = {
            let (config, engine) = (Arc::clone(&config), Arc::clone(&engine));
            // Compiling components takes tens of milliseconds: off the runtime.
            tokio::task::spawn_blocking(move || prepare(&config, &engine)).await
        };
        let prepared = prepared.map_err(StartError::Prepare)?.map_err(StartError::Problems)?;
        let generation = Generation::build(1, Arc::clone(&config), prepared.plugins, &prepared.upstream_tls, None)?;
        let shutdown = CancellationToken::new();
        let access_log = config.access_log.as_ref().map(AccessLog::start).transpose()?;
        let proxy = Arc::new(Proxy::new(generation).with_access_log(access_log));
        let mut bound = Vec::new();
        let mut certificates = Vec::new();
        let connections = Arc::new(Semaphore::new(
            config.limits.max_connections.min(Semaphore::MAX_PERMITS),
        ));
        for l in &config.listeners {
            let tls = match (&l.tls, prepared.certificates.get(&l.name)) {
                (Some(settings), Some(served)) => {
                    let store = CertificateStore::new(served.clone(), settings.unknown_name);
                    let tls_config = server_config(settings, Arc::clone(&store)).map_err(|source| StartError::Tls {
                        listener: l.name.clone(),
                        source: Box::new(source),
                    })?;
                    certificates.push(CertificateSlot {
                        listener: l.name.clone(),
                        store,
                    });
                    Some(TlsAcceptor::from(Arc::new(tls_config)))
                }
                _ => None,
            };
            let socket = bind(&l.name, l.bind).await?;
            bound.push(Listener {
                name: Arc::from(l.name.as_str()),
                socket,
                tls,
                limits: l.limits.clone(),
                global_connections: Arc::clone(&connections),
                shutdown_grace: config.limits.shutdown_grace,
                full: ThrottledLog::new(),
            });
        }
        let admin_socket = match &config.admin {
            Some(admin) => Some(bind("admin", admin.bind).await?),
            None => None,
        };
        let reloader = Arc::new(Reloader::new(
            Arc::clone(&proxy),
            Arc::clone(&engine),
            certificates,
            shutdown.clone(),
        ));
        reloader.start_health_checks();
        let mut tasks = JoinSet::new();
        tasks.spawn(close_expired_connections(Arc::clone(&proxy), shutdown.clone()));
        let mut listeners = Vec::new();
        let worker_count = config.workers.unwrap_or(1).max(1);
        let mut for_workers: Vec<Vec<WorkerListener>> = (1..worker_count).map(|_| Vec::new()).collect();
        for listener in bound {
            let address = local_addr(&listener.name, &listener.socket)?;
            tracing::info!(listener = %listener.name, %address, tls = listener.tls.is_some(), workers = worker_count, "listening");
            listeners.push((listener.name.to_string(), address));
            for (i, theirs) in for_workers.iter_mut().enumerate() {
                theirs.push(worker_listener(&listener, address, i + 1)?);
            }
            tasks.spawn(listener.serve(Arc::clone(&proxy), shutdown.clone()));
        }
        let mut workers = Workers::default();
        for (i, theirs) in for_workers.into_iter().enumerate() {
            workers.spawn(i + 1, theirs, Arc::clone(&proxy), shutdown.clone())?;
        }
        let admin = match admin_socket {
            Some(socket) => {
                let address = local_addr("admin", &socket)?;
                tracing::info!(%address, "admin endpoint listening");
                let token = config.admin.as_ref().and_then(|a| a.token.clone());
                tasks.spawn(crate::admin::serve(
                    socket,
                    Arc::clone(&reloader),
                    token,
                    shutdown.clone(),
                ));
                Some(address)
            }
            None => None,
        };
        if config.watch {
            if let Err(error) = spawn_watcher(Arc::clone(&reloader), shutdown.clone()) {
                tracing::warn!(%error, "cannot watch files: changes need SIGHUP or the admin endpoint");
            }
        }
        Ok(RunningProxy {
            reloader,
            engine,
            listeners,
            admin,
            shutdown,
            tasks,
            workers,
        })
    }

    /// The address a listener is bound to (useful with port 0).
    pub fn local_addr(&self, listener: &str) -> Option<SocketAddr> {
        self.listeners.iter().find(|(n, _)| n == listener).map(|(_, a)| *a)
    }

    /// Each listener's name and bound address.
    pub fn listeners(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// The admin endpoint's address, if configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// The request path, with the generation serving.
    pub fn proxy(&self) -> &Arc<Proxy> {
        self.reloader.proxy()
    }

    /// What reloads the configuration, plugins and certificates, and keeps their status.
    pub fn reloader(&self) -> &Arc<Reloader> {
        &self.reloader
    }

    /// The engine plugins are compiled and run with.
    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }

    /// A token that stops the proxy when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A planned stop: with a `handover_delay`, first a handover (`/health`
    /// not ready, connections closed after their response, still
    /// accepting) for that long, so a virtual IP or an outer balancer moves
    /// traffic away; then [`shutdown`](Self::shutdown).
    pub async fn stop(self) {
        let delay = self.proxy().generation().config.limits.handover_delay;
        if !delay.is_zero() {
            self.proxy().begin_handover();
            tokio::time::sleep(delay).await;
        }
        self.shutdown().await;
    }

    /// Stops accepting, lets open connections finish (bounded), stops
    /// health checks and the watcher; tunnels (upgraded connections) may
    /// go on until the grace period ends, then are closed.
    pub async fn shutdown(mut self) {
        let grace = self.proxy().generation().config.limits.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        self.workers.drained().await;
        self.proxy().tunnels().close_by(deadline).await;
        self.workers.release();
    }

    /// How many workers serve (`workers`): this runtime and the threads.
    pub fn workers(&self) -> usize {
        self.workers.len() + 1
    }
}

/// Every second, closes the idle upstream connections of the current
/// generation's servers that outlived their backend's `idle_timeout`
/// (nobody polls an idle HTTP/1.1 connection; see `upstream/pool.rs`).
async fn close_expired_connections(proxy: Arc<Proxy>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let generation = proxy.generation();
        for target in generation.backends.values() {
            for server in &target.backend.servers {
                server.pool.close_expired();
            }
        }
    }
}

async fn bind(listener: &str, address: SocketAddr) -> Result<TcpListener, StartError> {
    bind_reusable(address).map_err(|source| StartError::Bind {
        listener: listener.to_string(),
        address,
        source,
    })
}

/// `listener`'s copy for worker `worker`: a socket of its own on the same
/// address (the port `address` resolved, when the configuration said 0).
fn worker_listener(listener: &Listener, address: SocketAddr, worker: usize) -> Result<WorkerListener, StartError> {
    let socket = crate::listener::bind_reusable_std(address).map_err(|source| WorkerError::Bind {
        worker,
        listener: listener.name.to_string(),
        address,
        source,
    })?;
    Ok(WorkerListener {
        template: ListenerTemplate {
            name: Arc::clone(&listener.name),
            tls: listener.tls.clone(),
            limits: listener.limits.clone(),
            global_connections: Arc::clone(&listener.global_connections),
            shutdown_grace: listener.shutdown_grace,
        },
        socket,
    })
}

fn local_addr(listener: &str, socket: &TcpListener) -> Result<SocketAddr, StartError> {
    socket.local_addr().map_err(|source| StartError::Bind {
        listener: listener.to_string(),
        address: SocketAddr::from(([0, 0, 0, 0], 0)),
        source,
    })
}
