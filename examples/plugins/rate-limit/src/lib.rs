//! `rate-limit`: at most `limit` requests per client per window; more get
//! 429 with `Retry-After`.
//!
//! ```toml
//! [plugin.rate-limit]
//! source = "examples/plugins/target/wasm32-wasip2/release/rate_limit.wasm"
//! config = { limit = 100, window_ms = 1000, header = "x-api-key" }   # omit header: by client IP
//! ```
//!
//! The count lives in the `shared` interface (a counter per client whose
//! TTL is the window), so every worker's instance sees the same count and
//! a hot swap of the plugin keeps it.

wit_bindgen::generate!({ path: "../../../wit", world: "request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest, Response};
use std::cell::RefCell;
use switchyard::plugin::host::config_get;
use switchyard::plugin::shared::counter_add;
use switchyard::plugin::types::{Header, Request};

struct Settings {
    limit: i64,
    window_ms: u64,
    header: Option<String>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = const { RefCell::new(Settings { limit: 100, window_ms: 1000, header: None }) };
}

struct RateLimit;

impl lifecycle::Guest for RateLimit {
    fn init() -> Result<(), String> {
        let number = |key: &str, default: u64| -> Result<u64, String> {
            match config_get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("{key} = {v}: expected a positive number")),
            }
        };
        let settings = Settings {
            limit: number("limit", 100)? as i64,
            window_ms: number("window_ms", 1000)?,
            header: config_get("header").map(|h| h.to_ascii_lowercase()),
        };
        SETTINGS.with(|s| *s.borrow_mut() = settings);
        Ok(())
    }
}

impl request_hook::Guest for RateLimit {
    fn declare_interest() -> Interest {
        Interest {
            schemes: Vec::new(),
            path_prefixes: Vec::new(),
        }
    }

    fn on_request(req: &Request) -> Decision {
        let over = SETTINGS.with(|s| {
            let s = s.borrow();
            let client = match &s.header {
                Some(name) => req.header(name).map(|v| String::from_utf8_lossy(&v).into_owned()),
                None => None,
            }
            .unwrap_or_else(|| {
                let addr = req.client_addr();
                addr.rsplit_once(':').map_or(addr.clone(), |(ip, _)| ip.to_string())
            });
            let count = counter_add(&format!("client:{client}"), 1, s.window_ms);
            (count > s.limit).then(|| s.window_ms.div_ceil(1000))
        });
        let action = match over {
            None => Action::Continue,
            Some(retry_after) => Action::Respond(Response {
                status: 429,
                headers: vec![
                    Header {
                        name: "retry-after".into(),
                        value: retry_after.to_string().into_bytes(),
                    },
                    Header {
                        name: "content-type".into(),
                        value: b"text/plain".to_vec(),
                    },
                ],
                body: b"429 Too Many Requests\n".to_vec(),
            }),
        };
        Decision {
            action,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
        }
    }
}

export!(RateLimit);
