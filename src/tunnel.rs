//! Tunnels: connections upgraded to another protocol (WebSocket), whose
//! bytes are copied both ways between the client and the server until
//! either side closes, the tunnel stays silent for its backend's
//! `tunnel_idle_timeout`, or shutdown's grace period ends.
//!
//! Tunnels belong to the process, not to a generation: a plugin hot swap or
//! a configuration reload leaves them untouched. At most `max_tunnels` are
//! open at once (an upgrade past it gets 503 before anything is
//! forwarded). The open count, and every tunnel closed by its reason, are
//! metrics and on the status page.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::metrics;
use crate::upstream::InFlight;

/// Every open tunnel of the process.
pub struct Tunnels {
    /// `max_tunnels` permits.
    permits: Arc<Semaphore>,
    /// Ends every tunnel (at the end of shutdown's grace period).
    stop: CancellationToken,
    tasks: TaskTracker,
}

/// A place under `max_tunnels`, held by one tunnel for its life.
pub struct TunnelPermit {
    _permit: OwnedSemaphorePermit,
}

/// Why a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelEnd {
    /// One side closed it.
    Closed,
    /// Nothing moved for the idle timeout.
    Idle,
    /// Shutdown's grace period ended.
    Shutdown,
    /// A side failed (reset, or the upgrade itself did not complete).
    Error,
}

impl TunnelEnd {
    /// `closed`, `idle`, `shutdown` or `error`, for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelEnd::Closed => "closed",
            TunnelEnd::Idle => "idle",
            TunnelEnd::Shutdown => "shutdown",
            TunnelEnd::Error => "error",
        }
    }
}

/// What one tunnel joins, and under which bounds.
pub struct TunnelEnds {
    /// The client's side, ready once its 101 (or 200) has been sent.
    pub client: OnUpgrade,
    /// The server's side, from its 101.
    pub server: OnUpgrade,
    /// The backend's `tunnel_idle_timeout`.
    pub idle_timeout: Duration,
    /// Counts the tunnel as in flight to its server.
    pub in_flight: InFlight,
}

impl Tunnels {
    /// Room for `max` tunnels at once.
    pub fn new(max: usize) -> Tunnels {
        Tunnels {
            permits: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }

    /// A place for one more tunnel, if there is room.
    pub fn reserve(&self) -> Option<TunnelPermit> {
        Arc::clone(&self.permits)
            .try_acquire_owned()
            .ok()
            .map(|permit| TunnelPermit { _permit: permit })
    }

    /// Tunnels open now.
    pub fn open(&self) -> usize {
        self.tasks.len()
    }

    /// Copies bytes both ways between `ends` until one of them closes, it
    /// is idle too long, or the tunnels are stopped.
    pub fn spawn(&self, permit: TunnelPermit, ends: TunnelEnds) {
        let stop = self.stop.clone();
        let span = tracing::Span::current();
        let m = metrics();
        m.tunnels_open.inc();
        self.tasks.spawn(tracing::Instrument::instrument(
            async move {
                let _permit = permit;
                let started = Instant::now();
                let (end, (up, down)) = run(ends, stop).await;
                let m = metrics();
                m.tunnels_open.dec();
                m.tunnels_closed.get_or_create(&crate::metrics::TunnelLabels { reason: end.as_str() }).inc();
                tracing::debug!(reason = end.as_str(), to_server = up, to_client = down, lasted = ?started.elapsed(), "tunnel closed");
            },
            span,
        ));
    }

    /// Waits for the tunnels to end on their own until `deadline`, then
    /// closes the rest.
    pub async fn close_by(&self, deadline: tokio::time::Instant) {
        self.tasks.close();
        if tokio::time::timeout_at(deadline, self.tasks.wait()).await.is_err() {
            let open = self.open();
            tracing::warn!(open, "tunnels still open at the end of the grace period; closing them");
            self.stop.cancel();
            self.tasks.wait().await;
        }
    }
}

/// One tunnel's life; its end and the bytes copied each way.
async fn run(ends: TunnelEnds, stop: CancellationToken) -> (TunnelEnd, (u64, u64)) {
    let TunnelEnds {
        client,
        server,
        idle_timeout,
        in_flight: _in_flight,
    } = ends;
    let upgraded = tokio::select! {
        _ = stop.cancelled() => return (TunnelEnd::Shutdown, (0, 0)),
        both = async { tokio::join!(client, server) } => both,
    };
    let (client, server) = match upgraded {
        (Ok(client), Ok(server)) => (client, server),
        (Err(error), _) | (_, Err(error)) => {
            tracing::debug!(error = %crate::report::Report(&error), "the upgrade did not complete");
            return (TunnelEnd::Error, (0, 0));
        }
    };
    let activity = Arc::new(Activity::new());
    let mut client = Watched::new(TokioIo::new(client), &activity);
    let mut server = Watched::new(TokioIo::new(server), &activity);
    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
    tokio::pin!(copy);
    loop {
        let quiet_for = activity.quiet_for();
        if quiet_for >= idle_timeout {
            return (TunnelEnd::Idle, (0, 0));
        }
        tokio::select! {
            copied = &mut copy => {
                return match copied {
                    Ok(bytes) => (TunnelEnd::Closed, bytes),
                    Err(_) => (TunnelEnd::Error, (0, 0)),
                };
            }
            _ = stop.cancelled() => return (TunnelEnd::Shutdown, (0, 0)),
            _ = tokio::time::sleep(idle_timeout - quiet_for) => {}
        }
    }
}

/// When bytes last moved in a tunnel, either way.
struct Activity {
    started: Instant,
    /// Milliseconds after `started`.
    last: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let now = self.started.elapsed();
        now.saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }
}

/// A side of a tunnel that notes every byte it moves.
struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    fn new(io: T, activity: &Arc<Activity>) -> Watched<T> {
        Watched {
            io,
            activity: Arc::clone(activity),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
