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

wit_bindgen::generate!({ path: "../../wit", world: "balancer-plugin" });

use exports::switchyard::plugin::balancer::{self, Choice};
use exports::switchyard::plugin::lifecycle;
use switchyard::plugin::types::{Candidates, Request};

struct RoundRobin;

impl lifecycle::Guest for RoundRobin {
    fn init() -> Result<(), String> {
        Ok(())
    }
}

impl balancer::Guest for RoundRobin {
    fn pick(_req: &Request, candidates: &Candidates) -> Option<Choice> {
        // Read health and weight only: no string crosses into the guest.
        let count = candidates.len();
        let mut weights = [0u64; 64];
        let mut spill = Vec::new();
        let weights: &mut [u64] = if count as usize <= weights.len() {
            &mut weights[..count as usize]
        } else {
            spill.resize(count as usize, 0);
            &mut spill
        };
        let mut total = 0u64;
        for (index, weight) in weights.iter_mut().enumerate() {
            let index = index as u32;
            if candidates.healthy(index) {
                *weight = u64::from(candidates.weight(index));
                total += *weight;
            }
        }
        if total == 0 {
            return None;
        }
        let mut turn = candidates.sequence() % total;
        for (index, &weight) in weights.iter().enumerate() {
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

export!(RoundRobin);
