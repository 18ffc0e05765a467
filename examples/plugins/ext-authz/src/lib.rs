//! `ext-authz`: external authorization, like nginx's `auth_request`,
//! Traefik's `forwardAuth` or Envoy's `ext_authz`, with contract 0.2's
//! `ask`. Each request's credentials are sent to an authorization service
//! (a backend of the configuration, with its health checks, pools and
//! retries); a 2xx lets the request through with the user the service
//! names, a 401 or 403 is passed back to the client, anything else (the
//! service down, slow, broken) is 503: the plugin fails closed.
//!
//! Answers are cached in the plugin's shared state for `cache_ttl_ms`, so
//! a client sending the same token again costs no round trip (and every
//! worker, and the next version after a hot swap, sees the cache).
//!
//! ```toml
//! [plugin.ext-authz]
//! source = "examples/plugins/target/wasm32-wasip2/release/ext_authz.wasm"
//! config = { backend = "auth", path = "/check", cache_ttl_ms = 30000 }
//! ```
//!
//! The client's `x-auth-user` is always removed, so it cannot be forged;
//! the service's `x-auth-user` reply header is what the server gets.

wit_bindgen::generate!({ path: "../../../wit", world: "asking-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::reply_hook::{self, AskFailure, Reply};
use exports::switchyard::plugin::request_hook::{self, Action, Ask, Decision, Interest};
use std::cell::RefCell;
use switchyard::plugin::host::{config_get, log, Level};
use switchyard::plugin::shared;
use switchyard::plugin::types::{Header, HeaderOp, Request, Response};

const USER: &str = "x-auth-user";

struct Settings {
    backend: String,
    path: String,
    header: String,
    cache_ttl_ms: u64,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings {
        backend: String::new(),
        path: String::new(),
        header: String::new(),
        cache_ttl_ms: 0,
    });
}

struct ExtAuthz;

impl lifecycle::Guest for ExtAuthz {
    fn init() -> Result<(), String> {
        let backend = config_get("backend").ok_or("backend: the authorization service's backend is required")?;
        let path = config_get("path").unwrap_or_else(|| "/".to_string());
        if !path.starts_with('/') {
            return Err(format!("path = {path:?}: must start with '/'"));
        }
        let cache_ttl_ms = match config_get("cache_ttl_ms") {
            None => 30_000,
            Some(v) => v.parse().map_err(|_| format!("cache_ttl_ms = {v}: expected milliseconds"))?,
        };
        let header = config_get("header").unwrap_or_else(|| "authorization".to_string()).to_ascii_lowercase();
        SETTINGS.with(|s| *s.borrow_mut() = Settings { backend, path, header, cache_ttl_ms });
        Ok(())
    }
}

impl request_hook::Guest for ExtAuthz {
    fn declare_interest() -> Interest {
        Interest { schemes: Vec::new(), path_prefixes: Vec::new() }
    }

    fn on_request(req: &Request) -> Decision {
        SETTINGS.with(|s| {
            let s = s.borrow();
            let Some(credentials) = req.header(&s.header) else {
                return respond(401, "credentials required\n");
            };
            let key = cache_key(&credentials);
            // A cached answer: "+user" allowed, "-STATUS" refused.
            if let Some(cached) = shared::get(&key) {
                return decide(&cached);
            }
            let ask = Ask {
                backend: s.backend.clone(),
                method: "GET".into(),
                path: s.path.clone(),
                headers: vec![Header { name: s.header.clone(), value: credentials }],
                body: Vec::new(),
                timeout_ms: 0,
                context: key,
            };
            Decision { action: Action::Ask(ask), request_headers: Vec::new(), response_headers: Vec::new() }
        })
    }
}

impl reply_hook::Guest for ExtAuthz {
    fn on_reply(_req: &Request, key: String, reply: Result<Reply, AskFailure>) -> Decision {
        let ttl = SETTINGS.with(|s| s.borrow().cache_ttl_ms);
        let answer = match reply {
            Ok(reply) if (200..300).contains(&reply.status) => {
                let user = reply
                    .headers
                    .iter()
                    .find(|h| h.name == USER)
                    .map(|h| String::from_utf8_lossy(&h.value).into_owned())
                    .unwrap_or_default();
                format!("+{user}")
            }
            Ok(reply) if reply.status == 401 || reply.status == 403 => format!("-{}", reply.status),
            Ok(reply) => {
                log(Level::Warn, &format!("authorization service answered {}", reply.status));
                return respond(503, "authorization unavailable\n");
            }
            Err(failure) => {
                log(Level::Warn, &format!("authorization service: {failure:?}"));
                return respond(503, "authorization unavailable\n");
            }
        };
        if ttl > 0 {
            shared::set(&key, answer.as_bytes(), ttl);
        }
        decide(answer.as_bytes())
    }
}

/// The decision for a service's answer, fresh or cached.
fn decide(answer: &[u8]) -> Decision {
    match answer.split_first() {
        Some((b'+', user)) => Decision {
            action: Action::Continue,
            request_headers: vec![
                HeaderOp::Remove(USER.into()),
                HeaderOp::Set(Header { name: USER.into(), value: user.to_vec() }),
            ],
            response_headers: Vec::new(),
        },
        Some((b'-', status)) if status == b"401" => respond(401, "not authorized\n"),
        _ => respond(403, "forbidden\n"),
    }
}

fn respond(status: u16, body: &str) -> Decision {
    Decision {
        action: Action::Respond(Response {
            status,
            headers: vec![Header { name: "content-type".into(), value: b"text/plain".to_vec() }],
            body: body.as_bytes().to_vec(),
        }),
        request_headers: Vec::new(),
        response_headers: Vec::new(),
    }
}

/// A key for the credentials (FNV-1a, so no secret is stored as a key).
fn cache_key(credentials: &[u8]) -> String {
    let hash = credentials
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("authz:{hash:016x}")
}

export!(ExtAuthz);
