//! `path-router`: routes by host and by path prefix, from tables in the
//! plugin's configuration.
//!
//! ```toml
//! [plugin.router]
//! source = "examples/plugins/target/wasm32-wasip2/release/path_router.wasm"
//! config = { hosts = { "api.example.com" = "api" }, routes = { "/static/" = "static", "/api/" = "api" } }
//! ```
//!
//! A host match (the request's authority without its port, compared
//! case-insensitively) wins; otherwise the longest matching path prefix.
//! A request that matches neither goes on to the next plugin (and, at the
//! end of the chain, to the listener's default backend). Routed responses
//! carry `x-routed-by: path-router`.
//!
//! Without a host table the prefixes are declared as the plugin's
//! interest, so the host calls it only for matching paths.

wit_bindgen::generate!({ path: "../../../wit", world: "request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest};
use std::cell::RefCell;
use switchyard::plugin::host::{config_entries, log, Level};
use switchyard::plugin::types::{Header, HeaderOp, Request};

#[derive(Default)]
struct Table {
    /// (host, backend), hosts in lower case.
    hosts: Vec<(String, String)>,
    /// (prefix, backend), longest prefix first.
    prefixes: Vec<(String, String)>,
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

struct PathRouter;

impl lifecycle::Guest for PathRouter {
    fn init() -> Result<(), String> {
        let mut table = Table::default();
        for (key, backend) in config_entries() {
            if let Some(prefix) = key.strip_prefix("routes.") {
                if !prefix.starts_with('/') {
                    return Err(format!("routes.{prefix}: a prefix must start with '/'"));
                }
                table.prefixes.push((prefix.to_string(), backend));
            } else if let Some(host) = key.strip_prefix("hosts.") {
                table.hosts.push((host.to_ascii_lowercase(), backend));
            } else {
                return Err(format!(
                    "{key}: unknown setting; write hosts = {{ \"name\" = \"backend\" }} and routes = {{ \"/prefix/\" = \"backend\" }}"
                ));
            }
        }
        if table.prefixes.is_empty() && table.hosts.is_empty() {
            return Err("routes, hosts: at least one route is needed".into());
        }
        table
            .prefixes
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        log(
            Level::Info,
            &format!("{} host and {} path routes", table.hosts.len(), table.prefixes.len()),
        );
        TABLE.with(|t| *t.borrow_mut() = table);
        Ok(())
    }
}

impl request_hook::Guest for PathRouter {
    fn declare_interest() -> Interest {
        TABLE.with(|t| {
            let t = t.borrow();
            let path_prefixes = if t.hosts.is_empty() {
                t.prefixes.iter().map(|(prefix, _)| prefix.clone()).collect()
            } else {
                Vec::new()
            };
            Interest {
                schemes: Vec::new(),
                path_prefixes,
            }
        })
    }

    fn on_request(req: &Request) -> Decision {
        let backend = TABLE.with(|t| {
            let t = t.borrow();
            let by_host = if t.hosts.is_empty() {
                None
            } else {
                let host = req.authority().map(|a| host_of(&a).to_ascii_lowercase());
                host.and_then(|h| t.hosts.iter().find(|(name, _)| *name == h).map(|(_, b)| b.clone()))
            };
            by_host.or_else(|| {
                let path = req.path();
                t.prefixes
                    .iter()
                    .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                    .map(|(_, backend)| backend.clone())
            })
        });
        match backend {
            Some(backend) => Decision {
                action: Action::Route(backend),
                request_headers: Vec::new(),
                response_headers: vec![HeaderOp::Set(Header {
                    name: "x-routed-by".into(),
                    value: b"path-router".to_vec(),
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

/// `name:port` → `name`; `[v6]:port` → `[v6]`.
fn host_of(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    }
}

export!(PathRouter);
