//! `consistent-hash`: a balancer that sends every request with the same key
//! (a header, or the client's IP address) to the same server, and when a
//! server goes down moves only the keys that were on it.
//!
//! ```toml
//! [plugin.hash]
//! source = "examples/plugins/target/wasm32-wasip2/release/consistent_hash.wasm"
//! config = { header = "x-user" }    # omit to hash the client's address
//!
//! [backend.app]
//! balancer = "hash"
//! ```
//!
//! Rendezvous (highest-random-weight) hashing: each server scores
//! `hash(request key, server key)` and the highest healthy score wins. With
//! N servers, removing one moves exactly the 1/N of keys it held; nothing
//! else moves. The server key is the candidate's stable `key`, so the
//! mapping is the same across workers, reloads and proxy processes.

use std::cell::RefCell;
use switchyard_plugin::{config, Backend, Balancer, Candidate, Choice, Plugin, Request};

thread_local! {
    /// The header to hash, lower case; `None` hashes the client's IP.
    static HEADER: RefCell<Option<String>> = const { RefCell::new(None) };
}

struct ConsistentHash;

impl Plugin for ConsistentHash {
    fn init() -> Result<(), String> {
        let header = config::get("header").map(|h| h.to_ascii_lowercase());
        HEADER.with(|h| *h.borrow_mut() = header);
        Ok(())
    }
}

impl Balancer for ConsistentHash {
    fn pick(
        req: &Request,
        _backend: &Backend,
        _sequence: u64,
        _attempt: u32,
        candidates: &[Candidate],
    ) -> Option<Choice> {
        let key = request_key(req);
        let best = candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.healthy && c.weight > 0)
            .max_by_key(|(_, c)| mix(key ^ c.key.rotate_left(17)))
            .map(|(index, _)| index)?;
        Some(Choice::server(best))
    }
}

fn request_key(req: &Request) -> u64 {
    let header = HEADER.with(|h| h.borrow().clone());
    let bytes = match header.and_then(|name| req.header(&name)) {
        Some(value) => value,
        None => {
            let client = req.client_addr();
            // The IP without the port.
            let ip = client.rsplit_once(':').map_or(client.as_str(), |(ip, _)| ip);
            ip.as_bytes().to_vec()
        }
    };
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A 64-bit finaliser (splitmix64) so scores are well spread.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

switchyard_plugin::balancer_plugin!(ConsistentHash);
