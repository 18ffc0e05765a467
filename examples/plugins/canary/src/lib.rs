//! `canary`: sends a share of the traffic to a canary backend.
//!
//! ```toml
//! [plugin.canary]
//! source = "examples/plugins/target/wasm32-wasip2/release/canary.wasm"
//! config = { backend = "canary", percent = 10, header = "x-canary", cookie = "canary" }
//! ```
//!
//! - the header (`x-canary: always` or `never`) or the cookie
//!   (`canary=always|never`) decide for a client that asks;
//! - everyone else is split by a counter shared by every instance of the
//!   plugin (`shared` interface), so exactly `percent` of each hundred
//!   requests go to the canary, whichever worker serves them.
//!
//! Canary responses carry `x-canary: 1`. Requests not sent to the canary
//! continue down the chain.

use std::cell::RefCell;
use switchyard_plugin::shared::counter_add;
use switchyard_plugin::{config, Decision, Plugin, Request, RequestHook};

struct Settings {
    backend: String,
    percent: i64,
    header: String,
    cookie: String,
}

thread_local! {
    static SETTINGS: RefCell<Option<Settings>> = const { RefCell::new(None) };
}

struct Canary;

impl Plugin for Canary {
    fn init() -> Result<(), String> {
        let backend = config::get("backend").ok_or("backend: required, the canary backend's name")?;
        let percent = config::parse_or("percent", 10_i64)?;
        if !(0..=100).contains(&percent) {
            return Err(format!("percent = {percent}: expected 0 to 100"));
        }
        let header = config::get("header")
            .unwrap_or_else(|| "x-canary".into())
            .to_ascii_lowercase();
        let cookie = config::get("cookie").unwrap_or_else(|| "canary".into());
        SETTINGS.with(|s| {
            *s.borrow_mut() = Some(Settings {
                backend,
                percent,
                header,
                cookie,
            })
        });
        Ok(())
    }
}

impl RequestHook for Canary {
    fn on_request(req: &Request) -> Decision {
        let route = SETTINGS.with(|s| {
            let s = s.borrow();
            let s = s.as_ref()?;
            let asked = req
                .header_str(&s.header)
                .map(|v| v.trim().to_ascii_lowercase())
                .or_else(|| cookie(req, &s.cookie));
            let canary = match asked.as_deref() {
                Some("always") | Some("1") => true,
                Some("never") | Some("0") => false,
                _ => counter_add("split", 1, 0).rem_euclid(100) < s.percent,
            };
            canary.then(|| s.backend.clone())
        });
        match route {
            Some(backend) => Decision::route(backend).set_response_header("x-canary", "1"),
            None => Decision::next(),
        }
    }
}

/// The value of cookie `name` in the request's Cookie headers.
fn cookie(req: &Request, name: &str) -> Option<String> {
    req.header_all("cookie").iter().find_map(|header| {
        String::from_utf8_lossy(header).split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.trim().to_ascii_lowercase())
        })
    })
}

switchyard_plugin::request_plugin!(Canary);
