//! A server as the proxy runs it: health (set by active checks and by
//! passive observation of real requests), in-flight count, weight, and its
//! connection pool.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::pool::ConnectionPool;
use crate::config::{BackendConfig, ServerConfig};

#[derive(Debug)]
pub struct Server {
    pub name: Arc<str>,
    /// The stable key balancers see (FNV-1a of the name).
    pub key: u64,
    pub address: SocketAddr,
    /// `address` as text, made once for the balancer's candidates.
    pub address_text: Arc<str>,
    /// Configured weight; a reload may change it on a kept server.
    weight: AtomicU32,
    healthy: AtomicBool,
    in_flight: AtomicU32,
    /// Consecutive failures seen on real requests.
    passive_failures: AtomicU32,
    /// Bumped each time passive health marks the server down, so the active
    /// checker knows to count `rise` successes from zero again.
    passive_downs: AtomicU64,
    pub pool: ConnectionPool,
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
    pub fn new(config: &ServerConfig, backend: &BackendConfig) -> Server {
        Server {
            name: Arc::from(config.name.as_str()),
            key: server_key(&config.name),
            address: config.address,
            address_text: Arc::from(config.address.to_string()),
            weight: AtomicU32::new(config.weight),
            healthy: AtomicBool::new(true),
            in_flight: AtomicU32::new(0),
            passive_failures: AtomicU32::new(0),
            passive_downs: AtomicU64::new(0),
            pool: ConnectionPool::new(config.address, backend),
        }
    }

    pub fn weight(&self) -> u32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// Takes the settings of a new configuration for the same server
    /// (same backend, name and address): health and pooled connections stay.
    pub fn update(&self, config: &ServerConfig, backend: &BackendConfig) {
        self.weight.store(config.weight, Ordering::Relaxed);
        self.pool.reconfigure(backend);
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
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
        if failures >= threshold && self.healthy.swap(false, Ordering::Relaxed) {
            self.passive_downs.fetch_add(1, Ordering::Relaxed);
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
        self.healthy.store(true, Ordering::Relaxed);
    }

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
