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

use std::cell::RefCell;
use switchyard_plugin::{
    config, log, shared, Ask, AskFailure, Decision, Plugin, Reply, ReplyHook, Request, RequestHook, Response,
};

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

impl Plugin for ExtAuthz {
    fn init() -> Result<(), String> {
        let backend = config::get("backend").ok_or("backend: the authorization service's backend is required")?;
        let path = config::get("path").unwrap_or_else(|| "/".to_string());
        if !path.starts_with('/') {
            return Err(format!("path = {path:?}: must start with '/'"));
        }
        let cache_ttl_ms = config::parse_or("cache_ttl_ms", 30_000)?;
        let header = config::get("header")
            .unwrap_or_else(|| "authorization".to_string())
            .to_ascii_lowercase();
        SETTINGS.with(|s| {
            *s.borrow_mut() = Settings {
                backend,
                path,
                header,
                cache_ttl_ms,
            }
        });
        Ok(())
    }
}

impl RequestHook for ExtAuthz {
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
            Decision::ask(
                Ask::get(&s.backend, &s.path)
                    .header(&s.header, credentials)
                    .context(key),
            )
        })
    }
}

impl ReplyHook for ExtAuthz {
    fn on_reply(_req: &Request, key: String, reply: Result<Reply, AskFailure>) -> Decision {
        let ttl = SETTINGS.with(|s| s.borrow().cache_ttl_ms);
        let answer = match reply {
            Ok(reply) if reply.is_success() => {
                let user = reply.header(USER).map(String::from_utf8_lossy).unwrap_or_default();
                format!("+{user}")
            }
            Ok(reply) if reply.status == 401 || reply.status == 403 => format!("-{}", reply.status),
            Ok(reply) => {
                log::warn(format!("authorization service answered {}", reply.status));
                return respond(503, "authorization unavailable\n");
            }
            Err(failure) => {
                log::warn(format!("authorization service: {failure:?}"));
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
        Some((b'+', user)) => Decision::next()
            .remove_request_header(USER)
            .set_request_header(USER, user),
        Some((b'-', status)) if status == b"401" => respond(401, "not authorized\n"),
        _ => respond(403, "forbidden\n"),
    }
}

fn respond(status: u16, body: &str) -> Decision {
    Decision::respond(Response::new(status).header("content-type", "text/plain").body(body))
}

/// A key for the credentials (FNV-1a, so no secret is stored as a key).
fn cache_key(credentials: &[u8]) -> String {
    let hash = credentials.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("authz:{hash:016x}")
}

switchyard_plugin::asking_plugin!(ExtAuthz);
