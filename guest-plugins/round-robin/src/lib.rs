//! `round-robin`: healthy servers in turn, in proportion to their weights.
//!
//! Uses the per-backend sequence number the host passes with every pick, so
//! every instance of the plugin (one per worker) shares one rotation and the
//! plugin keeps no state. Servers marked down by health checks are skipped;
//! when none is healthy the pick is refused and the client gets 503, as
//! HAProxy does. With unequal weights a server with weight 3 gets three
//! consecutive turns for every one of a server with weight 1.
//!
//! ```toml
//! [plugin.round-robin]
//! source = "builtin:round-robin"
//! ```

wit_bindgen::generate!({ path: "../../wit", world: "rotating-balancer-plugin" });

use exports::switchyard::plugin::balancer::{self, Candidate, Choice};
use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::rotation;
use switchyard::plugin::types::{Backend, Request};

struct RoundRobin;

impl lifecycle::Guest for RoundRobin {
    fn init() -> Result<(), String> {
        Ok(())
    }
}

impl balancer::Guest for RoundRobin {
    fn pick(
        _req: &Request,
        _backend: &Backend,
        sequence: u64,
        _attempt: u32,
        candidates: Vec<Candidate>,
    ) -> Option<Choice> {
        let weight = |c: &Candidate| if c.healthy { u64::from(c.weight) } else { 0 };
        let total: u64 = candidates.iter().map(weight).sum();
        if total == 0 {
            return None;
        }
        let mut turn = sequence % total;
        for (index, candidate) in candidates.iter().enumerate() {
            let weight = weight(candidate);
            if turn < weight {
                return Some(Choice {
                    server: index as u32,
                    response_headers: Vec::new(),
                });
            }
            turn -= weight;
        }
        None
    }
}

/// The same choice as `pick`, for every sequence at once: each healthy
/// candidate `weight` times, in order. The host follows it until a
/// candidate's health or weight changes; past 4,096 entries (large
/// weights), `pick` is called per request instead.
impl rotation::Guest for RoundRobin {
    fn rotate(_backend: &Backend, candidates: Vec<Candidate>) -> Option<Vec<u32>> {
        let weight = |c: &Candidate| if c.healthy { u64::from(c.weight) } else { 0 };
        let total: u64 = candidates.iter().map(weight).sum();
        if total > 4096 {
            return None;
        }
        let mut order = Vec::with_capacity(total as usize);
        for (index, candidate) in candidates.iter().enumerate() {
            for _ in 0..weight(candidate) {
                order.push(index as u32);
            }
        }
        Some(order)
    }
}

export!(RoundRobin);
