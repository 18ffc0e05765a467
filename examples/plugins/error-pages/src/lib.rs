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

use std::cell::RefCell;
use switchyard_plugin::{
    config, Plugin, Request, Response, ResponseDecision, ResponseHead, ResponseHook, ResponseInterest,
};

struct Settings {
    site: String,
    server_errors: bool,
}

thread_local! {
    static SETTINGS: RefCell<Settings> = RefCell::new(Settings { site: String::new(), server_errors: false });
}

struct ErrorPages;

impl Plugin for ErrorPages {
    fn init() -> Result<(), String> {
        let server_errors = config::parse_or("server_errors", false)?;
        let site = config::get("site").unwrap_or_else(|| "this site".to_string());
        SETTINGS.with(|s| *s.borrow_mut() = Settings { site, server_errors });
        Ok(())
    }
}

impl ResponseHook for ErrorPages {
    fn response_interest() -> ResponseInterest {
        ResponseInterest::statuses([500..=599])
            .from_server(SETTINGS.with(|s| s.borrow().server_errors))
            .from_proxy(true)
    }

    fn on_response(req: &Request, resp: &ResponseHead) -> ResponseDecision {
        let status = resp.status();
        let id = resp
            .header_str("x-request-id")
            .or_else(|| req.header_str("x-request-id"))
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
        let mut page = Response::html(status, body).header("cache-control", "no-store");
        if !id.is_empty() {
            page = page.header("x-request-id", &id);
        }
        if let Some(retry) = resp.header("retry-after") {
            page = page.header("retry-after", retry);
        }
        ResponseDecision::replace(page)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

switchyard_plugin::response_plugin!(ErrorPages);
