//! A server as the proxy runs it: health (set by active checks and by
//! passive observation of real requests), the operator's state (ready,
//! drain, maintenance), in-flight count, weight, its connection pool, and
//! its metrics.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::pool::ConnectionPool;
use crate::config::{BackendConfig, ServerConfig};
use crate::metrics::ServerMetrics;
use crate::tls::UpstreamTls;

/// What the operator set, as HAProxy's `set server ... state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminState {
    /// Takes requests when healthy.
    Ready,
    /// Takes no new requests (balancers see weight 0); requests in flight
    /// finish; health checks go on.
    Drain,
    /// Takes no requests at all (seen as down, weight 0); health checks
    /// pause.
    Maint,
}

impl AdminState {
    fn from_u8(v: u8) -> AdminState {
        match v {
            1 => AdminState::Drain,
            2 => AdminState::Maint,
            _ => AdminState::Ready,
        }
    }

    /// `ready`, `drain` or `maint` (`maintenance`), as the admin API writes them.
    pub fn parse(text: &str) -> Option<AdminState> {
        match text {
            "ready" => Some(AdminState::Ready),
            "drain" => Some(AdminState::Drain),
            "maint" | "maintenance" => Some(AdminState::Maint),
            _ => None,
        }
    }
}

/// The last active health check, for the status page.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    /// Whether it passed.
    pub ok: bool,
    /// `status 200`, or why it failed.
    pub detail: String,
    /// How long it took.
    pub latency_ms: f64,
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// Consecutive successes and failures (rise and fall counters).
    pub successes: u32,
    /// Consecutive failures.
    pub failures: u32,
}

/// A server as the proxy runs it (see the module doc).
#[derive(Debug)]
pub struct Server {
    /// Its name in the configuration.
    pub name: Arc<str>,
    /// The stable key balancers see (FNV-1a of the name).
    pub key: u64,
    /// Where it listens.
    pub address: SocketAddr,
    /// `address` as text, made once for the balancer's candidates.
    pub address_text: Arc<str>,
    /// Configured weight; a reload may change it on a kept server.
    weight: AtomicU32,
    /// Up by its active health checks (always, without checks).
    healthy: AtomicBool,
    /// Down by passive health: real requests failed in a row.
    passive_down: AtomicBool,
    in_flight: AtomicU32,
    /// Consecutive failures seen on real requests.
    passive_failures: AtomicU32,
    /// Bumped each time passive health marks the server down, so the active
    /// checker knows to count `rise` successes from zero again.
    passive_downs: AtomicU64,
    admin: AtomicU8,
    last_check: Mutex<Option<CheckRecord>>,
    /// Its keep-alive connections.
    pub pool: ConnectionPool,
    /// Its metric handles.
    pub metrics: ServerMetrics,
}

/// A server's stable key: FNV-1a (64-bit) of its configured name, as the
/// WIT contract documents, so guests in any language can compute it too and
/// it survives reloads and restarts.
pub fn server_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Server {
    /// A new server, healthy and ready, with an empty pool.
    pub fn new(config: &ServerConfig, backend: &BackendConfig, tls: Option<Arc<UpstreamTls>>) -> Server {
        Server {
            name: Arc::from(config.name.as_str()),
            key: server_key(&config.name),
            address: config.address,
            address_text: Arc::from(config.address.to_string()),
            weight: AtomicU32::new(config.weight),
            healthy: AtomicBool::new(true),
            passive_down: AtomicBool::new(false),
            in_flight: AtomicU32::new(0),
            passive_failures: AtomicU32::new(0),
            passive_downs: AtomicU64::new(0),
            admin: AtomicU8::new(AdminState::Ready as u8),
            last_check: Mutex::new(None),
            pool: ConnectionPool::new(config.address, config.host.clone(), backend, tls),
            metrics: {
                let metrics = ServerMetrics::new(&backend.name, &config.name);
                metrics.up.set(1);
                metrics
            },
        }
    }

    /// The configured weight.
    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// The weight balancers see: 0 while draining or in maintenance.
    pub fn effective_weight(&self) -> u32 {
        match self.admin_state() {
            AdminState::Ready => self.weight(),
            AdminState::Drain | AdminState::Maint => 0,
        }
    }

    /// Healthy and not in maintenance: what balancers see as `healthy`.
    pub fn is_available(&self) -> bool {
        self.is_healthy() && self.admin_state() != AdminState::Maint
    }

    /// What the operator set.
    pub fn admin_state(&self) -> AdminState {
        AdminState::from_u8(self.admin.load(Ordering::Relaxed))
    }

    /// Sets the operator's state; returns the previous one.
    pub fn set_admin_state(&self, state: AdminState) -> AdminState {
        AdminState::from_u8(self.admin.swap(state as u8, Ordering::Relaxed))
    }

    /// Keeps the last active check for the status page.
    pub fn record_check(&self, ok: bool, detail: String, latency: Duration, successes: u32, failures: u32) {
        let at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let record = CheckRecord {
            ok,
            detail,
            latency_ms: latency.as_secs_f64() * 1000.0,
            at,
            successes,
            failures,
        };
        *self.last_check.lock().unwrap_or_else(|p| p.into_inner()) = Some(record);
    }

    /// The last active check, if any ran.
    pub fn last_check(&self) -> Option<CheckRecord> {
        self.last_check.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes the settings of a new configuration for the same server
    /// (same backend, name and address): health and pooled connections stay.
    pub fn update(&self, config: &ServerConfig, backend: &BackendConfig, tls: Option<Arc<UpstreamTls>>) {
        self.weight.store(config.weight, Ordering::Relaxed);
        self.pool.reconfigure(backend, tls);
    }

    /// Up by its health checks and passive health.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.passive_down.load(Ordering::Relaxed)
    }

    /// Up by its active health checks, whatever passive health says.
    pub fn actively_up(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Down by passive health only: its active checks (if any) pass and it
    /// is not in maintenance. A backend in panic tries such servers anyway.
    pub fn down_only_passively(&self) -> bool {
        self.passive_down.load(Ordering::Relaxed)
            && self.healthy.load(Ordering::Relaxed)
            && self.admin_state() != AdminState::Maint
    }

    /// Sets what its active health checks say; up also ends a passive
    /// mark-down (the checks' `rise` successes prove it answers again).
    pub fn set_healthy(&self, healthy: bool) {
        let before = self.is_healthy();
        self.healthy.store(healthy, Ordering::Relaxed);
        if healthy {
            self.passive_down.store(false, Ordering::Relaxed);
            self.passive_failures.store(0, Ordering::Relaxed);
        }
        if before != self.is_healthy() {
            self.count_transition(healthy);
        }
    }

    fn count_transition(&self, healthy: bool) {
        self.metrics.up.set(i64::from(healthy));
        if healthy {
            self.metrics.went_up.inc();
        } else {
            self.metrics.went_down.inc();
        }
    }

    /// A real request to this server went well.
    pub fn passive_success(&self) {
        if self.passive_failures.load(Ordering::Relaxed) != 0 {
            self.passive_failures.store(0, Ordering::Relaxed);
        }
    }

    /// A real request to this server failed; returns true if that failure
    /// takes it down (the `threshold`-th in a row while it was up).
    pub fn passive_failure(&self, threshold: u32) -> bool {
        if threshold == 0 {
            return false;
        }
        let failures = self.passive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= threshold && self.is_healthy() && !self.passive_down.swap(true, Ordering::Relaxed) {
            self.passive_downs.fetch_add(1, Ordering::Relaxed);
            self.count_transition(false);
            return true;
        }
        false
    }

    /// How many times passive health has taken this server down.
    pub fn passive_downs(&self) -> u64 {
        self.passive_downs.load(Ordering::Relaxed)
    }

    /// Back up after a passive mark-down (no active checks to do it).
    pub fn passive_recover(&self) {
        self.passive_failures.store(0, Ordering::Relaxed);
        let before = self.is_healthy();
        self.passive_down.store(false, Ordering::Relaxed);
        if !before && self.is_healthy() {
            self.count_transition(true);
        }
    }

    /// Requests this proxy has in flight to it.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a request in flight until the guard drops (response body
    /// finished, or the request abandoned).
    pub fn track(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }
}

/// A request in flight to a server; dropping it ends the count.
#[derive(Debug)]
pub struct InFlight(Arc<Server>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
