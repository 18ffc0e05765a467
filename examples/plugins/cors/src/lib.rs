//! `cors`: Cross-Origin Resource Sharing answered by the proxy, with the
//! request hook (preflights) and the response hook (every other response)
//! of contract 0.2, written with the Rust SDK.
//!
//! ```toml
//! [plugin.cors]
//! source = "examples/plugins/target/wasm32-wasip2/release/cors.wasm"
//! config = { allow_origins = ["https://app.example.com", "https://*.example.org"],
//!            allow_methods = ["GET", "POST", "PUT", "DELETE"],
//!            allow_headers = ["content-type", "authorization"],
//!            expose_headers = ["x-total-count"],   # or "auto"
//!            allow_credentials = true, max_age = 600 }
//! ```
//!
//! - A preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered by the plugin: 204 with
//!   the allowed method and headers, or 403 when the origin, the method or
//!   a header is not allowed. It never reaches a server.
//! - Every other response to a request with an allowed `Origin` (a
//!   server's, or the proxy's own 502/503/504, so a browser's script can
//!   read the error) gets `Access-Control-Allow-Origin` (the origin itself,
//!   or `*` when `allow_origins = ["*"]` without credentials),
//!   `Access-Control-Allow-Credentials` and `Access-Control-Expose-Headers`.
//!   `expose_headers = "auto"` exposes every header the response carries
//!   beyond the CORS-safelisted ones, which only the response hook can
//!   know. CORS headers a server set itself are removed: the proxy owns
//!   the policy.
//! - Responses get `Vary: Origin` (unless every origin is answered `*`),
//!   so caches keep one copy per origin.
//!
//! Origins are `scheme://host[:port]`; `https://*.example.org` allows any
//! subdomain of example.org (not example.org itself) over https.

use std::cell::RefCell;
use switchyard_plugin::{
    config, Decision, Plugin, Request, RequestHook, Response, ResponseDecision, ResponseHead, ResponseHook,
};

/// Response headers a script may always read (the CORS safelist).
const SAFELISTED: &[&str] = &[
    "cache-control",
    "content-language",
    "content-length",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
];

#[derive(Default)]
struct Policy {
    /// Exact origins, lower case.
    origins: Vec<String>,
    /// `(scheme://, .suffix)` of wildcard origins.
    wildcards: Vec<(String, String)>,
    any_origin: bool,
    methods: Vec<String>,
    /// Lower case; empty with `any_header`.
    headers: Vec<String>,
    any_header: bool,
    /// `None`: "auto".
    expose: Option<Vec<String>>,
    credentials: bool,
    max_age: u32,
}

thread_local! {
    static POLICY: RefCell<Policy> = RefCell::new(Policy::default());
}

/// A setting that is a list of strings (`key.0`, `key.1`, ...), or `None`.
fn list(key: &str) -> Option<Vec<String>> {
    let items = config::table(key);
    (!items.is_empty()).then(|| items.into_iter().map(|(_, v)| v).collect())
}

struct Cors;

impl Plugin for Cors {
    fn init() -> Result<(), String> {
        let mut policy = Policy::default();
        let origins = list("allow_origins").ok_or("allow_origins: required, a list of origins or [\"*\"]")?;
        for origin in origins {
            let origin = origin.to_ascii_lowercase();
            if origin == "*" {
                policy.any_origin = true;
            } else if let Some((scheme, host)) = origin.split_once("://*.") {
                policy.wildcards.push((format!("{scheme}://"), format!(".{host}")));
            } else if origin.starts_with("http://") || origin.starts_with("https://") {
                policy.origins.push(origin.trim_end_matches('/').to_string());
            } else {
                return Err(format!(
                    "allow_origins: {origin:?} is not an origin (https://host[:port], https://*.domain or *)"
                ));
            }
        }
        policy.methods = list("allow_methods")
            .unwrap_or_else(|| vec!["GET".into(), "HEAD".into(), "POST".into()])
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let headers = list("allow_headers").unwrap_or_else(|| vec!["content-type".into()]);
        policy.any_header = headers.iter().any(|h| h == "*");
        policy.headers = headers.into_iter().map(|h| h.to_ascii_lowercase()).collect();
        policy.expose = match config::get("expose_headers").as_deref() {
            Some("auto") => None,
            Some(other) => return Err(format!("expose_headers = {other:?}: a list of headers, or \"auto\"")),
            None => Some(list("expose_headers").unwrap_or_default()),
        };
        policy.credentials = config::parse_or("allow_credentials", false)?;
        if policy.credentials && policy.any_origin {
            // Browsers refuse `*` with credentials; each origin is echoed
            // instead, which is the same as allowing every origin with them.
            return Err("allow_credentials = true with allow_origins = [\"*\"]: name the origins".into());
        }
        policy.max_age = config::parse_or("max_age", 600)?;
        POLICY.with(|p| *p.borrow_mut() = policy);
        Ok(())
    }
}

impl Policy {
    fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        self.any_origin
            || self.origins.iter().any(|o| *o == origin)
            || self.wildcards.iter().any(|(scheme, suffix)| {
                origin
                    .strip_prefix(scheme.as_str())
                    .is_some_and(|host| host.split(':').next().is_some_and(|h| h.ends_with(suffix.as_str())))
            })
    }

    /// What `Access-Control-Allow-Origin` says to `origin`.
    fn allow_origin_value<'a>(&self, origin: &'a str) -> &'a str {
        match self.any_origin && !self.credentials {
            true => "*",
            false => origin,
        }
    }

    /// Whether responses differ by `Origin`.
    fn varies(&self) -> bool {
        !(self.any_origin && !self.credentials)
    }

    fn preflight(&self, origin: &str, req: &Request) -> Decision {
        let method = req
            .header_str("access-control-request-method")
            .unwrap_or_default()
            .trim()
            .to_ascii_uppercase();
        let requested: Vec<String> = req
            .header_str("access-control-request-headers")
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let refused = if !self.allows(origin) {
            Some("origin not allowed")
        } else if !self.methods.contains(&method) {
            Some("method not allowed")
        } else if !self.any_header && !requested.iter().all(|h| self.headers.contains(h)) {
            Some("header not allowed")
        } else {
            None
        };
        let vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
        if let Some(reason) = refused {
            return Decision::respond(
                Response::text(403, format!("CORS preflight refused: {reason}\n")).header("vary", vary),
            );
        }
        let mut answer = Response::new(204)
            .header("access-control-allow-origin", self.allow_origin_value(origin))
            .header("access-control-allow-methods", self.methods.join(", "))
            .header("access-control-max-age", self.max_age.to_string())
            .header("vary", vary);
        if !requested.is_empty() {
            answer = answer.header("access-control-allow-headers", requested.join(", "));
        }
        if self.credentials {
            answer = answer.header("access-control-allow-credentials", "true");
        }
        Decision::respond(answer)
    }
}

impl RequestHook for Cors {
    fn on_request(req: &Request) -> Decision {
        let Some(origin) = req.header_str("origin") else {
            return Decision::next();
        };
        let preflight = req.method() == "OPTIONS" && req.header("access-control-request-method").is_some();
        match preflight {
            true => POLICY.with(|p| p.borrow().preflight(&origin, req)),
            false => Decision::next(),
        }
    }
}

impl ResponseHook for Cors {
    fn on_response(req: &Request, resp: &ResponseHead) -> ResponseDecision {
        POLICY.with(|p| {
            let p = p.borrow();
            // The proxy owns the policy: whatever a server said goes.
            let mut decision = ResponseDecision::keep()
                .remove_header("access-control-allow-origin")
                .remove_header("access-control-allow-credentials")
                .remove_header("access-control-expose-headers");
            if p.varies() {
                let varies_already = resp
                    .header_all("vary")
                    .iter()
                    .any(|v| String::from_utf8_lossy(v).to_ascii_lowercase().contains("origin"));
                if !varies_already {
                    decision = decision.append_header("vary", "Origin");
                }
            }
            let origin = match req.header_str("origin") {
                Some(origin) if p.allows(&origin) => origin,
                _ => return decision,
            };
            decision = decision.set_header("access-control-allow-origin", p.allow_origin_value(&origin));
            if p.credentials {
                decision = decision.set_header("access-control-allow-credentials", "true");
            }
            let exposed: Vec<String> = match &p.expose {
                Some(list) => list.clone(),
                None => resp
                    .header_names()
                    .into_iter()
                    .filter(|name| !SAFELISTED.contains(&name.as_str()))
                    .filter(|name| !name.starts_with("access-control-") && name != "set-cookie" && name != "vary")
                    .collect(),
            };
            if !exposed.is_empty() {
                decision = decision.set_header("access-control-expose-headers", exposed.join(", "));
            }
            decision
        })
    }
}

switchyard_plugin::request_response_plugin!(Cors);
