//! `path-router`: routes by path prefix, the longest prefix winning, with
//! the table taken from the plugin's configuration:
//!
//! ```toml
//! [plugin.path-router]
//! source = "examples/plugins/path-router/target/wasm32-wasip2/release/path_router.wasm"
//! config = { routes = { "/api/" = "api-backend", "/static/" = "static-backend" } }
//! ```
//!
//! The prefixes are declared as the plugin's interest, so the host calls it
//! only for matching paths; any other request goes on to the next plugin
//! (and, at the end of the chain, to the listener's default backend). Each routed
//! response carries `x-routed-by: path-router` so the effect is visible.

wit_bindgen::generate!({ path: "../../../wit", world: "request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest};
use std::cell::RefCell;
use switchyard::plugin::host::{config_entries, log, Level};
use switchyard::plugin::types::{Header, HeaderOp, Request};

thread_local! {
    /// (prefix, backend), longest prefix first.
    static ROUTES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

struct PathRouter;

impl lifecycle::Guest for PathRouter {
    fn init() -> Result<(), String> {
        let mut routes = Vec::new();
        for (key, backend) in config_entries() {
            let Some(prefix) = key.strip_prefix("routes.") else {
                return Err(format!(
                    "{key}: unknown setting; write routes = {{ \"/prefix/\" = \"backend\" }}"
                ));
            };
            if !prefix.starts_with('/') {
                return Err(format!("routes.{prefix}: a prefix must start with '/'"));
            }
            routes.push((prefix.to_string(), backend));
        }
        if routes.is_empty() {
            return Err("routes: at least one prefix is needed".into());
        }
        routes.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        log(Level::Info, &format!("{} routes loaded", routes.len()));
        ROUTES.with(|r| *r.borrow_mut() = routes);
        Ok(())
    }
}

impl request_hook::Guest for PathRouter {
    /// The host calls this plugin only for paths under one of the prefixes;
    /// every other request skips it without entering Wasm.
    fn declare_interest() -> Interest {
        Interest {
            schemes: Vec::new(),
            path_prefixes: ROUTES.with(|r| r.borrow().iter().map(|(prefix, _)| prefix.clone()).collect()),
        }
    }

    fn on_request(req: &Request) -> Decision {
        let path = req.path();
        let backend = ROUTES.with(|routes| {
            routes
                .borrow()
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                .map(|(_, backend)| backend.clone())
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

export!(PathRouter);
