//! `https-redirect`: sends plain-HTTP clients to the same URL over HTTPS.
//!
//! A request on a plain-HTTP listener gets a redirect to
//! `https://HOST[:PORT]/same/path?same=query`. HOST is the host the client
//! asked for, without its port; PORT comes from the configuration (omitted
//! when it is 443), never from the `Host` header, which names the plain-HTTP
//! port. Requests that arrived over HTTPS pass through untouched.
//!
//! ```toml
//! [plugin.https-redirect]
//! source = "builtin:https-redirect"
//! config = { port = 443, status = 302 }   # HAProxy's `redirect scheme` default
//! ```
//!
//! Settings: `port` (default 443), `status` (301, 302, 303, 307 or 308;
//! default 302), `host` (used when the request names no host; without it
//! such a request gets 400).

wit_bindgen::generate!({ path: "../../wit", world: "memo-request-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::memo::{self, MemoKey, RequestParts};
use exports::switchyard::plugin::request_hook::{self, Action, Decision, Interest, Response};
use std::cell::RefCell;
use switchyard::plugin::host::config_get;
use switchyard::plugin::types::{Header, Request, Scheme};

struct Settings {
    /// `:PORT` to append to the host, empty for 443.
    port_suffix: String,
    status: u16,
    fallback_host: Option<String>,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings {
        port_suffix: String::new(),
        status: 302,
        fallback_host: None,
    });
}

struct HttpsRedirect;

impl lifecycle::Guest for HttpsRedirect {
    fn init() -> Result<(), String> {
        let port = match config_get("port") {
            None => 443,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => return Err(format!("port = {p}: expected a port number from 1 to 65535")),
            },
        };
        let status = match config_get("status") {
            None => 302,
            Some(s) => match s.parse::<u16>() {
                Ok(s @ (301 | 302 | 303 | 307 | 308)) => s,
                _ => return Err(format!("status = {s}: expected 301, 302, 303, 307 or 308")),
            },
        };
        let fallback_host = config_get("host");
        if let Some(h) = &fallback_host {
            if host_of(h).is_none() {
                return Err(format!("host = \"{h}\": not a valid host name"));
            }
        }
        let port_suffix = if port == 443 { String::new() } else { format!(":{port}") };
        SETTINGS.with(|s| {
            *s.borrow_mut() = Settings {
                port_suffix,
                status,
                fallback_host,
            }
        });
        Ok(())
    }
}

impl request_hook::Guest for HttpsRedirect {
    /// Only plain-HTTP requests; HTTPS ones skip this plugin in the host.
    fn declare_interest() -> Interest {
        Interest {
            schemes: vec![Scheme::Http],
            path_prefixes: Vec::new(),
        }
    }

    fn on_request(req: &Request) -> Decision {
        Decision {
            action: SETTINGS.with(|s| Action::Respond(redirect(req, &s.borrow()))),
            request_headers: Vec::new(),
            response_headers: Vec::new(),
        }
    }
}

/// The redirect is made of the authority, the path and the query (and the
/// configuration): the host reuses it for requests alike in those, up to
/// 1,024 of them at once.
impl memo::Guest for HttpsRedirect {
    fn declare_memo() -> Option<MemoKey> {
        Some(MemoKey {
            parts: RequestParts::SCHEME | RequestParts::AUTHORITY | RequestParts::PATH | RequestParts::QUERY,
            headers: Vec::new(),
            max_entries: 1024,
        })
    }
}

fn redirect(req: &Request, settings: &Settings) -> Response {
    let asked = req.authority();
    let host = asked.as_deref().or(settings.fallback_host.as_deref()).and_then(host_of);
    let Some(host) = host else {
        return Response {
            status: 400,
            headers: vec![text_plain()],
            body: b"400 Bad Request: no valid host to redirect to\n".to_vec(),
        };
    };
    let mut location = format!("https://{host}{}{}", settings.port_suffix, req.path());
    if let Some(query) = req.query() {
        location.push('?');
        location.push_str(&query);
    }
    let body = format!("Redirecting to {location}\n").into_bytes();
    Response {
        status: settings.status,
        headers: vec![
            Header {
                name: "location".into(),
                value: location.into_bytes(),
            },
            text_plain(),
        ],
        body,
    }
}

fn text_plain() -> Header {
    Header {
        name: "content-type".into(),
        value: b"text/plain; charset=utf-8".to_vec(),
    }
}

/// The host part of an authority (`name`, `name:port`, `[v6]`, `[v6]:port`),
/// or `None` if it holds anything a host name or IP literal cannot.
fn host_of(authority: &str) -> Option<&str> {
    let host = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (literal, rest) = authority.split_at(end + 1);
        let inner = &literal[1..literal.len() - 1];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return None;
        }
        if !(rest.is_empty() || is_port(rest.strip_prefix(':')?)) {
            return None;
        }
        literal
    } else {
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        if let Some(port) = port {
            if !is_port(port) {
                return None;
            }
        }
        let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_';
        if name.is_empty() || !name.bytes().all(valid) {
            return None;
        }
        name
    };
    Some(host)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

export!(HttpsRedirect);
