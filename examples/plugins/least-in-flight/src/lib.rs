//! `least-in-flight`: a balancer that sends each request to the healthy
//! server with the fewest requests in flight relative to its weight
//! (HAProxy's `leastconn`, per request). Ties rotate with the backend's
//! pick sequence, so equal servers still share the load.
//!
//! ```toml
//! [plugin.least]
//! source = "examples/plugins/target/wasm32-wasip2/release/least_in_flight.wasm"
//!
//! [backend.app]
//! balancer = "least"
//! ```

use switchyard_plugin::{Backend, Balancer, Candidate, Choice, Plugin, Request};

struct LeastInFlight;

impl Plugin for LeastInFlight {}

impl Balancer for LeastInFlight {
    fn pick(
        _req: &Request,
        _backend: &Backend,
        sequence: u64,
        _attempt: u32,
        candidates: &[Candidate],
    ) -> Option<Choice> {
        let n = candidates.len();
        // Start the scan at a rotating offset so ties are shared.
        let start = if n == 0 { 0 } else { (sequence % n as u64) as usize };
        let mut best: Option<(usize, u64)> = None;
        for step in 0..n {
            let index = (start + step) % n;
            let c = &candidates[index];
            if !c.healthy || c.weight == 0 {
                continue;
            }
            // in-flight / weight, compared without division.
            let load = (u64::from(c.in_flight) + 1) * 1_000_000 / u64::from(c.weight);
            if best.is_none_or(|(_, best_load)| load < best_load) {
                best = Some((index, load));
            }
        }
        best.map(|(index, _)| Choice::server(index))
    }
}

switchyard_plugin::balancer_plugin!(LeastInFlight);
