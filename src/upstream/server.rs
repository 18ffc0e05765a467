//! Servers and backends as the proxy runs them: health, in-flight counts, a
//! connection pool per server, and the per-backend pick sequence.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::pool::ConnectionPool;
use crate::config::{BackendConfig, ServerConfig};

#[derive(Debug)]
pub struct Server {
    pub name: Arc<str>,
    pub address: SocketAddr,
    /// `address` as text, made once for the balancer's candidates.
    pub address_text: Arc<str>,
    /// Configured weight; a reload may change it on a kept server.
    weight: AtomicU32,
    healthy: AtomicBool,
    in_flight: AtomicU32,
    pub pool: ConnectionPool,
}

impl Server {
    pub fn new(config: &ServerConfig, backend: &BackendConfig) -> Server {
        Server {
            name: Arc::from(config.name.as_str()),
            address: config.address,
            address_text: Arc::from(config.address.to_string()),
            weight: AtomicU32::new(config.weight),
            healthy: AtomicBool::new(true),
            in_flight: AtomicU32::new(0),
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

#[derive(Debug)]
pub struct Backend {
    pub name: Arc<str>,
    /// The balancer plugin's name.
    pub balancer: String,
    pub servers: Vec<Arc<Server>>,
    pub config: BackendConfig,
    sequence: AtomicU64,
}

impl Backend {
    pub fn new(config: &BackendConfig) -> Backend {
        Backend::reusing(config, None)
    }

    /// A backend for `config` that keeps the servers of `previous` whose
    /// name and address did not change (with their health and pooled
    /// connections), and its pick sequence.
    pub fn reusing(config: &BackendConfig, previous: Option<&Backend>) -> Backend {
        let servers = config
            .servers
            .iter()
            .map(|s| {
                let kept = previous
                    .and_then(|p| p.server(&s.name))
                    .filter(|old| old.address == s.address);
                match kept {
                    Some(old) => {
                        old.update(s, config);
                        Arc::clone(old)
                    }
                    None => Arc::new(Server::new(s, config)),
                }
            })
            .collect();
        let sequence = previous.map_or(0, |p| p.sequence.load(Ordering::Relaxed));
        Backend {
            name: Arc::from(config.name.as_str()),
            balancer: config.balancer.clone(),
            servers,
            config: config.clone(),
            sequence: AtomicU64::new(sequence),
        }
    }

    /// The next value of the per-backend sequence the balancer sees.
    pub fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    pub fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| &*s.name == name)
    }
}
