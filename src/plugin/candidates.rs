//! The servers a balancer picks from. Their weights, health and in-flight
//! counts go to the guest eagerly as a list of small records; names and
//! addresses stay here, behind the WIT resource `backend`, read on demand
//! (a string is the costliest thing to copy into a guest).

use std::sync::Arc;

/// One server offered to the balancer.
#[derive(Debug, Clone)]
pub struct CandidateServer {
    /// The server's stable key (see `upstream::server_key`).
    pub key: u64,
    /// Its configured name.
    pub name: Arc<str>,
    /// Its address, `ip:port`.
    pub address: Arc<str>,
    /// The weight balancers see (0 while draining).
    pub weight: u32,
    /// Up, and not in maintenance.
    pub healthy: bool,
    /// Requests this proxy has in flight to it.
    pub in_flight: u32,
}

/// The backend being balanced and its candidates for one pick.
#[derive(Debug, Clone, Default)]
pub struct CandidateView {
    /// The backend's name.
    pub backend: Arc<str>,
    /// The per-backend pick counter.
    pub sequence: u64,
    /// Connection failures so far for this request.
    pub attempt: u32,
    /// Every server not tried yet for this request, in configuration order.
    pub servers: Vec<CandidateServer>,
}
