//! `sticky-sessions`: a balancer that keeps a client on one server.
//!
//! ```toml
//! [plugin.sticky]
//! source = "examples/plugins/target/wasm32-wasip2/release/sticky_sessions.wasm"
//! config = { cookie = "SERVERID" }
//!
//! [backend.app]
//! balancer = "sticky"
//! ```
//!
//! The first response sets `SERVERID=<server key>`; while that server is
//! healthy, later requests carrying the cookie go back to it. When it goes
//! down, the client is moved to another server (round-robin over the
//! healthy ones) and gets a new cookie. The server key is the candidate's
//! stable `key` (a hash of the server's name), so the cookie survives
//! reloads and works across several proxy processes; no string crosses
//! into the plugin on the request path but the cookie header itself.

use std::cell::RefCell;
use switchyard_plugin::{config, Backend, Balancer, Candidate, Choice, Plugin, Request};

thread_local! {
    static COOKIE: RefCell<String> = RefCell::new("SERVERID".into());
}

struct Sticky;

impl Plugin for Sticky {
    fn init() -> Result<(), String> {
        let name = config::get("cookie").unwrap_or_else(|| "SERVERID".into());
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(format!("cookie = \"{name}\": letters, digits, '-' and '_' only"));
        }
        COOKIE.with(|c| *c.borrow_mut() = name);
        Ok(())
    }
}

impl Balancer for Sticky {
    fn pick(
        req: &Request,
        _backend: &Backend,
        sequence: u64,
        _attempt: u32,
        candidates: &[Candidate],
    ) -> Option<Choice> {
        let cookie = COOKIE.with(|c| c.borrow().clone());
        let wanted = sticky_key(req, &cookie);
        if let Some(key) = wanted {
            if let Some(index) = candidates
                .iter()
                .position(|c| c.key == key && c.healthy && c.weight > 0)
            {
                return Some(Choice::server(index));
            }
        }
        let healthy: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].healthy && candidates[i].weight > 0)
            .collect();
        if healthy.is_empty() {
            return None;
        }
        let index = healthy[(sequence % healthy.len() as u64) as usize];
        let set_cookie = format!(
            "{cookie}={:016x}; Path=/; HttpOnly; SameSite=Lax",
            candidates[index].key
        );
        Some(Choice::server(index).append_response_header("set-cookie", set_cookie))
    }
}

/// The server key in the request's sticky cookie.
fn sticky_key(req: &Request, cookie: &str) -> Option<u64> {
    req.header_all("cookie").iter().find_map(|header| {
        String::from_utf8_lossy(header).split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            if name != cookie {
                return None;
            }
            u64::from_str_radix(value.trim(), 16).ok()
        })
    })
}

switchyard_plugin::balancer_plugin!(Sticky);
