//! `acme-challenge`: sends ACME HTTP-01 challenges to the certificate client.
//!
//! Requests whose path starts with the prefix (default
//! `/.well-known/acme-challenge/`) are routed to the configured backend,
//! typically certbot's standalone responder on 127.0.0.1:9876. List it on the
//! plain-HTTP listener *before* `https-redirect`, so renewal works through the
//! proxy even before any certificate exists; the lab's literal HAProxy config
//! redirects the challenge instead, which fails when the validator sends
//! `Host: name:80`.
//!
//! ```toml
//! [plugin.acme-challenge]
//! source = "builtin:acme-challenge"
//! config = { backend = "letsencrypt-backend", prefix = "/.well-known/acme-challenge/" }
//! ```

wit_bindgen::generate!({ path: "../../wit", world: "request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest};
use std::cell::RefCell;
use switchyard::plugin::host::config_get;
use switchyard::plugin::types::Request;

const DEFAULT_PREFIX: &str = "/.well-known/acme-challenge/";

struct Settings {
    backend: String,
    prefix: String,
}

thread_local! {
    static SETTINGS: RefCell<Option<Settings>> = const { RefCell::new(None) };
}

struct AcmeChallenge;

impl lifecycle::Guest for AcmeChallenge {
    fn init() -> Result<(), String> {
        let backend = config_get("backend")
            .filter(|b| !b.is_empty())
            .ok_or("backend: required, the name of the backend that answers ACME challenges")?;
        let prefix = config_get("prefix").unwrap_or_else(|| DEFAULT_PREFIX.into());
        if !prefix.starts_with('/') {
            return Err(format!("prefix = \"{prefix}\": must start with '/'"));
        }
        SETTINGS.with(|s| *s.borrow_mut() = Some(Settings { backend, prefix }));
        Ok(())
    }
}

impl request_hook::Guest for AcmeChallenge {
    /// Only challenge paths: the host matches the prefix natively, so every
    /// other request skips this plugin at no cost.
    fn declare_interest() -> Interest {
        let prefix = SETTINGS.with(|s| s.borrow().as_ref().map(|s| s.prefix.clone()));
        Interest {
            schemes: Vec::new(),
            path_prefixes: prefix.into_iter().collect(),
        }
    }

    fn on_request(_req: &Request) -> Decision {
        let action = SETTINGS.with(|s| match &*s.borrow() {
            Some(s) => Action::Route(s.backend.clone()),
            None => Action::Continue,
        });
        Decision {
            action,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
        }
    }
}

export!(AcmeChallenge);
