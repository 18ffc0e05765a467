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

use std::cell::RefCell;
use switchyard_plugin::{config, log, Decision, Interest, Plugin, Request, RequestHook};

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

impl Plugin for PathRouter {
    fn init() -> Result<(), String> {
        let mut table = Table::default();
        for (key, backend) in config::entries() {
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
        log::info(format!(
            "{} host and {} path routes",
            table.hosts.len(),
            table.prefixes.len()
        ));
        TABLE.with(|t| *t.borrow_mut() = table);
        Ok(())
    }
}

impl RequestHook for PathRouter {
    fn interest() -> Interest {
        TABLE.with(|t| {
            let t = t.borrow();
            match t.hosts.is_empty() {
                true => Interest::paths(t.prefixes.iter().map(|(prefix, _)| prefix.clone())),
                false => Interest::all(),
            }
        })
    }

    fn on_request(req: &Request) -> Decision {
        let backend = TABLE.with(|t| {
            let t = t.borrow();
            let by_host = if t.hosts.is_empty() {
                None
            } else {
                let host = req.host_name();
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
            Some(backend) => Decision::route(backend).set_response_header("x-routed-by", "path-router"),
            None => Decision::next(),
        }
    }
}

switchyard_plugin::request_plugin!(PathRouter);
