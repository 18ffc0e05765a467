//! The servers a balancer picks from. Their weights, health and in-flight
//! counts go to the guest eagerly as a list of small records; names and
//! addresses stay here, behind the WIT resource `backend`, read on demand
//! (a string is the costliest thing to copy into a guest).

use std::sync::Arc;

use super::bindings::exports::switchyard::plugin::balancer::Candidate;

/// The type the WIT resource `backend` maps to (a borrowed handle; the data
/// is the [`CandidateView`] swapped into the store for one pick).
pub struct BackendHandle;

/// One server offered to the balancer.
#[derive(Debug, Clone)]
pub struct CandidateServer {
    /// The server's stable key (see `upstream::server_key`).
    pub key: u64,
    pub name: Arc<str>,
    pub address: Arc<str>,
    pub weight: u32,
    pub healthy: bool,
    pub in_flight: u32,
}

/// The backend being balanced and its candidates for one pick.
#[derive(Debug, Clone, Default)]
pub struct CandidateView {
    pub backend: Arc<str>,
    /// The per-backend pick counter.
    pub sequence: u64,
    /// Connection failures so far for this request.
    pub attempt: u32,
    pub servers: Vec<CandidateServer>,
}

impl CandidateView {
    /// The eager part, as the guest receives it.
    pub(crate) fn records(&self) -> Vec<Candidate> {
        self.servers
            .iter()
            .map(|s| Candidate {
                key: s.key,
                weight: s.weight,
                healthy: s.healthy,
                in_flight: s.in_flight,
            })
            .collect()
    }
}
