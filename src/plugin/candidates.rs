//! The servers a balancer picks from, as plugins see them: a host-owned list
//! behind the WIT resource `candidates`. Like the request, it is swapped
//! into the store for one call and read field by field, so a round-robin
//! that only reads health and weight copies no string.

use std::sync::Arc;

/// The type the WIT resource `candidates` maps to (a borrowed handle; the
/// data is the [`CandidateView`] in the store).
pub struct CandidatesHandle;

/// One server offered to the balancer.
#[derive(Debug, Clone)]
pub struct CandidateServer {
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
