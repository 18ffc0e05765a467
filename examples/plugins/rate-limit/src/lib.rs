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

use std::cell::RefCell;
use switchyard_plugin::shared::counter_add;
use switchyard_plugin::{config, Decision, Plugin, Request, RequestHook, Response};

struct Settings {
    limit: i64,
    window_ms: u64,
    header: Option<String>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = const { RefCell::new(Settings { limit: 100, window_ms: 1000, header: None }) };
}

struct RateLimit;

impl Plugin for RateLimit {
    fn init() -> Result<(), String> {
        let positive = |key: &str, default: u64| -> Result<u64, String> {
            match config::parse_or(key, default)? {
                0 => Err(format!("{key} = 0: expected a positive number")),
                n => Ok(n),
            }
        };
        let settings = Settings {
            limit: positive("limit", 100)? as i64,
            window_ms: positive("window_ms", 1000)?,
            header: config::get("header").map(|h| h.to_ascii_lowercase()),
        };
        SETTINGS.with(|s| *s.borrow_mut() = settings);
        Ok(())
    }
}

impl RequestHook for RateLimit {
    fn on_request(req: &Request) -> Decision {
        let over = SETTINGS.with(|s| {
            let s = s.borrow();
            let client = s
                .header
                .as_deref()
                .and_then(|name| req.header_str(name))
                .unwrap_or_else(|| {
                    let addr = req.client_addr();
                    addr.rsplit_once(':').map_or(addr.clone(), |(ip, _)| ip.to_string())
                });
            let count = counter_add(&format!("client:{client}"), 1, s.window_ms);
            (count > s.limit).then(|| s.window_ms.div_ceil(1000))
        });
        match over {
            None => Decision::next(),
            Some(retry_after) => Decision::respond(
                Response::new(429)
                    .header("retry-after", retry_after.to_string())
                    .header("content-type", "text/plain")
                    .body("429 Too Many Requests\n"),
            ),
        }
    }
}

switchyard_plugin::request_plugin!(RateLimit);
