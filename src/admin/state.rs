//! The admin API's view of the running proxy, as JSON: what the status
//! page shows and what `GET /api/state` returns.

use serde::Serialize;

use crate::metrics::{metrics, CLASSES};
use crate::reload::{Reloader, SwapStatus};
use crate::upstream::{AdminState, CheckRecord, Server};

/// Everything `GET /api/state` returns.
#[derive(Debug, Serialize)]
pub struct ProxyState {
    /// The reloader's status (flattened into the top level).
    #[serde(flatten)]
    pub swap: SwapStatus,
    /// Switchyard's version.
    pub version: &'static str,
    /// Requests being handled, all listeners together.
    pub in_flight: i64,
    /// Upgraded connections (WebSocket tunnels) open now.
    pub tunnels_open: usize,
    /// Each listener of the current generation.
    pub listeners: Vec<ListenerState>,
    /// Each backend of the current generation.
    pub backends: Vec<BackendState>,
}

#[derive(Debug, Serialize)]
pub struct ListenerState {
    pub name: String,
    pub bind: String,
    pub tls: bool,
    pub open_connections: i64,
    /// Requests answered, by status class.
    pub requests: Vec<(&'static str, u64)>,
}

#[derive(Debug, Serialize)]
pub struct BackendState {
    pub name: String,
    pub balancer: String,
    pub health_check: bool,
    pub servers: Vec<ServerState>,
}

#[derive(Debug, Serialize)]
pub struct ServerState {
    pub name: String,
    pub address: String,
    pub healthy: bool,
    pub admin_state: AdminState,
    pub weight: u32,
    pub in_flight: u32,
    pub last_check: Option<CheckRecord>,
    /// Responses, by status class.
    pub responses: Vec<(&'static str, u64)>,
    pub connect_errors: u64,
    pub timeouts: u64,
    pub other_errors: u64,
    /// Times it went down.
    pub downs: u64,
}

impl ServerState {
    fn of(server: &Server) -> ServerState {
        let m = &server.metrics;
        ServerState {
            name: server.name.to_string(),
            address: server.address.to_string(),
            healthy: server.is_healthy(),
            admin_state: server.admin_state(),
            weight: server.weight(),
            in_flight: server.in_flight(),
            last_check: server.last_check(),
            responses: CLASSES.iter().zip(&m.responses).map(|(c, n)| (*c, n.get())).collect(),
            connect_errors: m.connect_errors.get(),
            timeouts: m.timeouts.get(),
            other_errors: m.other_errors.get(),
            downs: m.went_down.get(),
        }
    }
}

/// The running proxy's state now, as the admin API serves it.
pub fn state(reloader: &Reloader) -> ProxyState {
    let generation = reloader.proxy().generation();
    let config = &generation.config;
    let listeners = config
        .listeners
        .iter()
        .map(|l| {
            let route = generation.listeners.get(&l.name);
            ListenerState {
                name: l.name.clone(),
                bind: l.bind.to_string(),
                tls: l.tls.is_some(),
                open_connections: route.map_or(0, |r| r.metrics.open_connections.get()),
                requests: CLASSES
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, route.map_or(0, |r| r.metrics.requests[i].get())))
                    .collect(),
            }
        })
        .collect();
    let backends = config
        .backends
        .iter()
        .filter_map(|b| generation.backends.get(&b.name))
        .map(|b| BackendState {
            name: b.backend.name.to_string(),
            balancer: b.backend.balancer.clone(),
            health_check: b.backend.config.health_check.is_some(),
            servers: b.backend.servers.iter().map(|s| ServerState::of(s)).collect(),
        })
        .collect();
    ProxyState {
        swap: reloader.status(),
        version: env!("CARGO_PKG_VERSION"),
        in_flight: metrics().in_flight.get(),
        tunnels_open: reloader.proxy().tunnels().open(),
        listeners,
        backends,
    }
}
