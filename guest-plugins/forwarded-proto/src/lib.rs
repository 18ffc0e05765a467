//! `forwarded-proto`: tells the servers which scheme the client used.
//!
//! Sets `X-Forwarded-Proto: http` or `https` on every forwarded request. The
//! default mode `replace` removes any value the client sent, so a client on
//! plain HTTP cannot pretend to be on HTTPS (HAProxy's `http-request
//! add-header` keeps the spoofed value, and gunicorn then rejects the request
//! for carrying two). Mode `append` reproduces HAProxy literally.
//!
//! ```toml
//! [plugin.forwarded-proto]
//! source = "builtin:forwarded-proto"
//! config = { mode = "replace" }   # or "append"; header = "X-Forwarded-Proto"
//! ```

wit_bindgen::generate!({ path: "../../wit", world: "memo-request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::memo::{self, MemoKey, RequestParts};
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest};
use std::cell::RefCell;
use switchyard::plugin::host::config_get;
use switchyard::plugin::types::{Header, HeaderOp, Request, Scheme};

struct Settings {
    header: String,
    append: bool,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings {
        header: "x-forwarded-proto".into(),
        append: false,
    });
}

struct ForwardedProto;

impl lifecycle::Guest for ForwardedProto {
    fn init() -> Result<(), String> {
        let append = match config_get("mode").as_deref() {
            None | Some("replace") => false,
            Some("append") => true,
            Some(other) => {
                return Err(format!(
                    "mode = \"{other}\": expected \"replace\" (default) or \"append\""
                ))
            }
        };
        let header = config_get("header").unwrap_or_else(|| "x-forwarded-proto".into());
        if header.is_empty() || !header.bytes().all(is_token_byte) {
            return Err(format!("header = \"{header}\": not a valid header name"));
        }
        SETTINGS.with(|s| {
            *s.borrow_mut() = Settings {
                header: header.to_ascii_lowercase(),
                append,
            }
        });
        Ok(())
    }
}

impl request_hook::Guest for ForwardedProto {
    fn declare_interest() -> Interest {
        Interest {
            schemes: Vec::new(),
            path_prefixes: Vec::new(),
        }
    }

    fn on_request(req: &Request) -> Decision {
        let value: &[u8] = match req.scheme() {
            Scheme::Http => b"http",
            Scheme::Https => b"https",
        };
        let op = SETTINGS.with(|s| {
            let s = s.borrow();
            let header = Header {
                name: s.header.clone(),
                value: value.to_vec(),
            };
            if s.append {
                HeaderOp::Append(header)
            } else {
                HeaderOp::Set(header)
            }
        });
        Decision {
            action: Action::Continue,
            request_headers: vec![op],
            response_headers: Vec::new(),
        }
    }
}

/// The decision depends on the scheme alone (and the configuration): the
/// host calls the plugin once per scheme and reuses the answer.
impl memo::Guest for ForwardedProto {
    fn declare_memo() -> Option<MemoKey> {
        Some(MemoKey {
            parts: RequestParts::SCHEME,
            headers: Vec::new(),
            max_entries: 2,
        })
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

export!(ForwardedProto);
