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
//! Written with the Rust SDK (`switchyard-plugin/`, a copy of Switchyard's
//! `sdk/rust`): implement `Plugin` and the hooks, export with the macro of
//! the world they make up. The contract (every type and function,
//! documented) is `wit/plugin.wit`.

use std::cell::RefCell;
use switchyard_plugin::{config, log, Decision, Interest, Plugin, Request, RequestHook, Response};

/// The greeting when the configuration sets none.
const DEFAULT_GREETING: &str = "hello from {{name}}";

// Settings read by `init`. Every instance of the plugin (one per worker
// thread, and fresh ones after a hot swap) is a separate Wasm instance
// with its own memory, so plain per-instance state is all it takes.
thread_local! {
    static GREETING: RefCell<String> = RefCell::new(String::new());
}

struct Greeter;

impl Plugin for Greeter {
    /// Called once per instance, before any hook: read and check the
    /// settings. An `Err` rejects the plugin; `switchyard check` and the
    /// proxy's log show the message, so make it name the setting.
    fn init() -> Result<(), String> {
        let greeting = match config::get("greeting") {
            None => DEFAULT_GREETING.to_string(),
            Some(value) if value.trim().is_empty() => {
                return Err("greeting: must not be empty (remove it to use the default)".into());
            }
            Some(value) => value,
        };
        log::info(format!("greeting: {greeting:?}"));
        GREETING.with(|g| *g.borrow_mut() = greeting);
        Ok(())
    }
}

impl RequestHook for Greeter {
    /// Which requests the plugin sees; asked once, after `init`.
    /// `Interest::all()` is every request. (With `Interest::paths(["/hello"])`
    /// the host would skip the plugin for other paths without calling it,
    /// but this plugin also tags every other response.)
    fn interest() -> Interest {
        Interest::all()
    }

    /// The decision for one request. `req` is a handle: only what is asked
    /// for (`req.path()`, `req.header("host")`, ...) is copied into the
    /// plugin. A panic fails the call: its message is shown in the proxy's
    /// log and by `switchyard plugin test`, and `on_error` decides.
    fn on_request(req: &Request) -> Decision {
        if req.path() == "/hello" {
            // Answer directly: nothing is forwarded to a backend.
            let body = GREETING.with(|g| format!("{}\n", g.borrow()));
            return Decision::respond(Response::new(200).header("content-type", "text/plain").body(body));
        }
        // Let the next plugin (or the default backend) handle it, and tag
        // the response sent back to the client.
        Decision::next().set_response_header("x-plugin", "{{name}}")
    }
}

// Exports `Greeter` in the `request-plugin` world (a request hook). Other
// worlds: asking_plugin!, body_plugin!, response_plugin!,
// request_response_plugin!, balancer_plugin!, plugin!.
switchyard_plugin::request_plugin!(Greeter);
