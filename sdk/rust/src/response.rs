//! What a response hook declares and decides.

use std::ops::RangeInclusive;

use crate::helpers::{HeaderOp, Response};

/// Which responses a response hook wants; others never enter the plugin.
#[derive(Debug, Clone)]
pub struct ResponseInterest {
    /// Status ranges; empty: every status.
    pub statuses: Vec<RangeInclusive<u16>>,
    /// Responses from a server.
    pub from_server: bool,
    /// Responses the proxy generates itself (its errors: 502, 503, 504...).
    pub from_proxy: bool,
}

impl ResponseInterest {
    /// Every response, from servers and from the proxy.
    pub fn all() -> ResponseInterest {
        ResponseInterest {
            statuses: Vec::new(),
            from_server: true,
            from_proxy: true,
        }
    }

    /// Responses with a status in one of `ranges` (`500..=599`), from
    /// servers and from the proxy.
    pub fn statuses(ranges: impl IntoIterator<Item = RangeInclusive<u16>>) -> ResponseInterest {
        ResponseInterest {
            statuses: ranges.into_iter().collect(),
            ..ResponseInterest::all()
        }
    }

    /// Whether to see servers' responses.
    pub fn from_server(mut self, yes: bool) -> ResponseInterest {
        self.from_server = yes;
        self
    }

    /// Whether to see the proxy's own responses.
    pub fn from_proxy(mut self, yes: bool) -> ResponseInterest {
        self.from_proxy = yes;
        self
    }
}

/// What a response hook does with a response, plus header edits.
#[derive(Debug, Clone)]
pub struct ResponseDecision {
    /// Keep or replace.
    pub action: ResponseAction,
    /// Edits of the response sent to the client.
    pub headers: Vec<HeaderOp>,
}

/// Keep the response, or send another.
#[derive(Debug, Clone)]
pub enum ResponseAction {
    /// Keep it, with the edits applied.
    Continue,
    /// Send this one instead (the server's body is dropped).
    Replace(Response),
}

impl ResponseDecision {
    /// Keep the response as it is (add edits with the methods below).
    pub fn keep() -> ResponseDecision {
        ResponseDecision {
            action: ResponseAction::Continue,
            headers: Vec::new(),
        }
    }

    /// Send `response` instead.
    pub fn replace(response: Response) -> ResponseDecision {
        ResponseDecision {
            action: ResponseAction::Replace(response),
            headers: Vec::new(),
        }
    }

    /// Sets a header (replacing its values).
    pub fn set_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> ResponseDecision {
        self.headers.push(HeaderOp::set(name, value));
        self
    }

    /// Adds a value to a header.
    pub fn append_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> ResponseDecision {
        self.headers.push(HeaderOp::append(name, value));
        self
    }

    /// Removes a header.
    pub fn remove_header(mut self, name: impl Into<String>) -> ResponseDecision {
        self.headers.push(HeaderOp::remove(name));
        self
    }
}
