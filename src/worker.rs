//! Thread per core: `workers = N` runs N single-threaded runtimes. Worker 0
//! is the runtime that starts the proxy (it also runs health checks, the
//! admin endpoint and the watcher); workers 1..N each run on a thread of
//! their own, with their own `SO_REUSEPORT` socket per listener, so the
//! kernel spreads new connections over the workers and a connection stays
//! on the worker that accepted it, with every task it spawns (its requests,
//! its upstream connections, its tunnels).
//!
//! Nothing on the request path is shared between workers but the generation
//! pointer and atomic counters: upstream keep-alive connections are pooled
//! per worker ([`current`] tags them), plugin instances come from each
//! version's lock-free queue, metrics are atomics.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::listener::Listener;
use crate::proxy::Proxy;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The worker running on this thread (0 outside the extra workers).
pub fn current() -> usize {
    WORKER.with(Cell::get)
}

/// Why an extra worker did not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Its thread could not be started.
    #[error("cannot start worker {worker}'s thread")]
    Thread {
        /// The worker.
        worker: usize,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// A listener's socket could not be bound for it.
    #[error("cannot bind listener \"{listener}\" ({address}) for worker {worker}")]
    Bind {
        /// The worker.
        worker: usize,
        /// The listener.
        listener: String,
        /// Its address.
        address: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
}

/// A listener as an extra worker gets it: its own socket in the listener's
/// `SO_REUSEPORT` group, registered with the worker's runtime there.
pub struct WorkerListener {
    /// The listener as worker 0 serves it (settings cloned from it).
    pub template: ListenerTemplate,
    /// The worker's own socket, not yet registered with a runtime.
    pub socket: std::net::TcpListener,
}

/// What a listener's copies share.
#[derive(Clone)]
pub struct ListenerTemplate {
    /// Its name.
    pub name: Arc<str>,
    /// Its TLS handshake.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Its limits.
    pub limits: crate::config::ListenerLimits,
    /// Connections of every listener, every worker, together.
    pub global_connections: Arc<tokio::sync::Semaphore>,
    /// How long a drain lets open connections finish.
    pub shutdown_grace: std::time::Duration,
}

impl ListenerTemplate {
    /// The listener on `socket`.
    fn listener(self, socket: tokio::net::TcpListener) -> Listener {
        Listener {
            name: self.name,
            socket,
            tls: self.tls,
            limits: self.limits,
            global_connections: self.global_connections,
            shutdown_grace: self.shutdown_grace,
            full: crate::log_throttle::ThrottledLog::new(),
        }
    }
}

/// The extra workers of a running proxy.
#[derive(Default)]
pub struct Workers {
    /// Cancelled once tunnels are closed: the workers' runtimes may end.
    release: CancellationToken,
    /// The proxy's shutdown: fired too if the proxy is dropped unstopped.
    stop: Option<CancellationToken>,
    /// Each fires when its worker's listeners have drained.
    drained: Vec<oneshot::Receiver<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts worker `index` serving `listeners` until `shutdown`.
    pub fn spawn(
        &mut self,
        index: usize,
        listeners: Vec<WorkerListener>,
        proxy: Arc<Proxy>,
        shutdown: CancellationToken,
    ) -> Result<(), WorkerError> {
        let (drained, on_drained) = oneshot::channel();
        let release = self.release.clone();
        self.stop = Some(shutdown.clone());
        let thread = std::thread::Builder::new()
            .name(format!("switchyard-w{index}"))
            .spawn(move || serve(index, listeners, proxy, shutdown, release, drained))
            .map_err(|source| WorkerError::Thread { worker: index, source })?;
        self.drained.push(on_drained);
        self.threads.push(thread);
        Ok(())
    }

    /// How many extra workers run.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether none runs (one worker in all).
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Waits until every worker's listeners have drained (after the
    /// shutdown token fired).
    pub async fn drained(&mut self) {
        for drained in self.drained.drain(..) {
            let _ = drained.await;
        }
    }

    /// Lets the workers' runtimes end (their tunnels are closed by now).
    pub fn release(&mut self) {
        self.release.cancel();
        // The threads end on their own; joining here would block a runtime
        // thread.
        self.threads.clear();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // A proxy dropped without a stop: its workers stop accepting too.
        if let Some(stop) = &self.stop {
            stop.cancel();
        }
        self.release.cancel();
    }
}

/// A worker's thread: its runtime, its listeners, until released.
fn serve(
    index: usize,
    listeners: Vec<WorkerListener>,
    proxy: Arc<Proxy>,
    shutdown: CancellationToken,
    release: CancellationToken,
    drained: oneshot::Sender<()>,
) {
    WORKER.with(|w| w.set(index));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(worker = index, %error, "worker cannot start its runtime; the others serve");
            return;
        }
    };
    runtime.block_on(async move {
        let mut serving = tokio::task::JoinSet::new();
        for WorkerListener { template, socket } in listeners {
            let name = Arc::clone(&template.name);
            match tokio::net::TcpListener::from_std(socket) {
                Ok(socket) => {
                    serving.spawn(template.listener(socket).serve(Arc::clone(&proxy), shutdown.clone()));
                }
                Err(error) => {
                    tracing::error!(worker = index, listener = %name, %error, "worker cannot serve the listener")
                }
            }
        }
        tracing::debug!(worker = index, listeners = serving.len(), "worker serving");
        while serving.join_next().await.is_some() {}
        let _ = drained.send(());
        // Tunnels and upstream connections spawned here live on this
        // runtime: it runs until the proxy has closed them.
        release.cancelled().await;
    });
}
