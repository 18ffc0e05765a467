//! `error-pages`: a branded HTML page instead of the plain-text errors,
//! from the response hook of contract 0.2. It sees the responses the proxy
//! generates itself (503 when no server is up, 502, 504) and, with
//! `server_errors = true`, a server's own 5xx too; everything else never
//! enters the plugin (its interest is matched by the host).
//!
//! ```toml
//! [plugin.error-pages]
//! source = "examples/plugins/target/wasm32-wasip2/release/error_pages.wasm"
//! config = { site = "Example Shop", server_errors = true }
//! ```
//!
//! The page names the status, the request id (so a user can quote it) and,
//! for an error of the proxy, whose fault it was; it is never cached.

wit_bindgen::generate!({ path: "../../../wit", world: "response-plugin" });

use exports::switchyard::plugin::lifecycle;
use exports::switchyard::plugin::response_hook::{
    self, ResponseAction, ResponseDecision, ResponseInterest, StatusRange,
};
use std::cell::RefCell;
use switchyard::plugin::host::config_get;
use switchyard::plugin::types::{Header, Request, Response, ResponseHead};

struct Settings {
    site: String,
    server_errors: bool,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings { site: String::new(), server_errors: false });
}

struct ErrorPages;

impl lifecycle::Guest for ErrorPages {
    fn init() -> Result<(), String> {
        let server_errors = match config_get("server_errors").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(format!("server_errors = {other}: expected true or false")),
        };
        let site = config_get("site").unwrap_or_else(|| "this site".to_string());
        SETTINGS.with(|s| *s.borrow_mut() = Settings { site, server_errors });
        Ok(())
    }
}

impl response_hook::Guest for ErrorPages {
    fn declare_response_interest() -> ResponseInterest {
        ResponseInterest {
            statuses: vec![StatusRange { first: 500, last: 599 }],
            from_server: SETTINGS.with(|s| s.borrow().server_errors),
            from_proxy: true,
        }
    }

    fn on_response(req: &Request, resp: &ResponseHead) -> ResponseDecision {
        let status = resp.status();
        let id = resp
            .header("x-request-id")
            .or_else(|| req.header("x-request-id"))
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        let cause = match resp.blame().as_deref() {
            Some("upstream") => "Our servers could not answer in time.",
            Some("plugin") | Some("proxy") => "Something went wrong on our side.",
            Some(_) => "The request could not be handled.",
            None => "The application failed.",
        };
        let site = SETTINGS.with(|s| s.borrow().site.clone());
        let body = format!(
            "<!doctype html>\n<html><head><title>{status} | {site}</title></head>\n\
             <body><h1>{site} is having trouble</h1>\n<p>{cause}</p>\n\
             <p>Error {status}. Request id <code>{id}</code>.</p></body></html>\n",
            site = escape(&site),
            id = escape(&id),
        );
        let mut headers = vec![
            header("content-type", "text/html; charset=utf-8"),
            header("cache-control", "no-store"),
        ];
        if !id.is_empty() {
            headers.push(header("x-request-id", &id));
        }
        if let Some(retry) = resp.header("retry-after") {
            headers.push(Header { name: "retry-after".into(), value: retry });
        }
        ResponseDecision {
            action: ResponseAction::Replace(Response { status, headers, body: body.into_bytes() }),
            headers: Vec::new(),
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header { name: name.to_string(), value: value.as_bytes().to_vec() }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

export!(ErrorPages);
