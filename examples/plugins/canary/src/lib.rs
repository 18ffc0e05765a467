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

wit_bindgen::generate!({ path: "../../../wit", world: "request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest};
use std::cell::RefCell;
use switchyard::plugin::host::config_get;
use switchyard::plugin::shared::counter_add;
use switchyard::plugin::types::{Header, HeaderOp, Request};

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

impl lifecycle::Guest for Canary {
    fn init() -> Result<(), String> {
        let backend = config_get("backend").ok_or("backend: required, the canary backend's name")?;
        let percent = match config_get("percent") {
            None => 10,
            Some(p) => match p.parse::<i64>() {
                Ok(p @ 0..=100) => p,
                _ => return Err(format!("percent = {p}: expected 0 to 100")),
            },
        };
        let header = config_get("header")
            .unwrap_or_else(|| "x-canary".into())
            .to_ascii_lowercase();
        let cookie = config_get("cookie").unwrap_or_else(|| "canary".into());
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

impl request_hook::Guest for Canary {
    fn declare_interest() -> Interest {
        Interest {
            schemes: Vec::new(),
            path_prefixes: Vec::new(),
        }
    }

    fn on_request(req: &Request) -> Decision {
        let route = SETTINGS.with(|s| {
            let s = s.borrow();
            let s = s.as_ref()?;
            let asked = req
                .header(&s.header)
                .map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase())
                .or_else(|| cookie(req, &s.cookie));
            let canary = match asked.as_deref() {
                Some("always") | Some("1") => true,
                Some("never") | Some("0") => false,
                _ => counter_add("split", 1, 0).rem_euclid(100) < s.percent,
            };
            canary.then(|| s.backend.clone())
        });
        match route {
            Some(backend) => Decision {
                action: Action::Route(backend),
                request_headers: Vec::new(),
                response_headers: vec![HeaderOp::Set(Header {
                    name: "x-canary".into(),
                    value: b"1".to_vec(),
                })],
            },
            None => Decision {
                action: Action::Continue,
                request_headers: Vec::new(),
                response_headers: Vec::new(),
            },
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

export!(Canary);
