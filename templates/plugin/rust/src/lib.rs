//! `{{name}}`: a Switchyard request plugin.
//!
//! - A request for `/hello` is answered by the proxy itself:
//!   `200`, `content-type: text/plain`, the configured greeting.
//! - Every other request continues down the plugin chain (and, at its end,
//!   to the listener's `default_backend`); the response the client gets
//!   carries `x-plugin: {{name}}`.
//!
//! Settings, from the plugin's `config` table in the proxy's configuration:
//!
//! ```toml
//! [plugin.{{name}}]
//! source = "{{name_snake}}.wasm"
//! config = { greeting = "hello from {{name}}" }   # optional
//! ```
//!
//! The contract (every type and function, documented) is `wit/plugin.wit`.

// Generates the Rust bindings of the `request-plugin` world: the host's
// functions as plain Rust functions, and the traits (`Guest`) this crate
// implements for the interfaces it exports. `path` is relative to
// Cargo.toml.
wit_bindgen::generate!({ path: "wit", world: "request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest, Response};
use std::cell::RefCell;
use switchyard::plugin::host::{config_get, log, Level};
use switchyard::plugin::types::{Header, HeaderOp, Request};

/// The greeting when the configuration sets none.
const DEFAULT_GREETING: &str = "hello from {{name}}";

// Settings read by `init`. Every instance of the plugin (one per worker
// thread, and fresh ones after a hot swap) is a separate Wasm instance
// with its own memory, so plain per-instance state is all it takes.
thread_local! {
    static GREETING: RefCell<String> = RefCell::new(String::new());
}

struct Plugin;

impl lifecycle::Guest for Plugin {
    /// Called once per instance, before any hook: read and check the
    /// settings. An `Err` rejects the plugin; `switchyard check` and the
    /// proxy's log show the message, so make it name the setting.
    fn init() -> Result<(), String> {
        let greeting = match config_get("greeting") {
            None => DEFAULT_GREETING.to_string(),
            Some(value) if value.trim().is_empty() => {
                return Err("greeting: must not be empty (remove it to use the default)".into());
            }
            Some(value) => value,
        };
        log(Level::Info, &format!("greeting: {greeting:?}"));
        GREETING.with(|g| *g.borrow_mut() = greeting);
        Ok(())
    }
}

impl request_hook::Guest for Plugin {
    /// Which requests the plugin sees; asked once, after `init`. Empty lists
    /// mean every request. (With `path_prefixes: vec!["/hello".into()]` the
    /// host would skip the plugin for other paths without calling it, but
    /// this plugin also tags every other response.)
    fn declare_interest() -> Interest {
        Interest {
            schemes: Vec::new(),
            path_prefixes: Vec::new(),
        }
    }

    /// The decision for one request. `req` is a handle: only what is asked
    /// for (`req.path()`, `req.header("host")`, ...) is copied into the
    /// plugin.
    fn on_request(req: &Request) -> Decision {
        if req.path() == "/hello" {
            // Answer directly: nothing is forwarded to a backend.
            let body = GREETING.with(|g| format!("{}\n", g.borrow()));
            return Decision {
                action: Action::Respond(Response {
                    status: 200,
                    headers: vec![header("content-type", "text/plain")],
                    body: body.into_bytes(),
                }),
                request_headers: Vec::new(),
                response_headers: Vec::new(),
            };
        }
        // Let the next plugin (or the default backend) handle it, and tag
        // the response sent back to the client.
        Decision {
            action: Action::Continue,
            request_headers: Vec::new(),
            response_headers: vec![HeaderOp::Set(header("x-plugin", "{{name}}"))],
        }
    }
}

/// A header; values are bytes, as HTTP allows non-UTF-8 values.
fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.into(),
        value: value.as_bytes().to_vec(),
    }
}

// Exports `Plugin` as the implementation of the world's exports.
export!(Plugin);
