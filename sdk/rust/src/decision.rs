//! What a request hook decides, and what it declares once: the requests it
//! wants, the body it reads, the asks it sends and the replies it gets.

use crate::helpers::{Header, HeaderOp, Response, Scheme};

/// What the request hook does with a request, plus header edits.
///
/// Built from one of the actions, then edits chained on:
/// `Decision::next().set_request_header("x-tenant", "a")`.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What happens to the request.
    pub action: Action,
    /// Edits to the request forwarded upstream (dropped when the chain
    /// responds directly).
    pub request_headers: Vec<HeaderOp>,
    /// Edits to the response sent to the client (a direct response too).
    pub response_headers: Vec<HeaderOp>,
}

/// What happens to a request.
#[derive(Debug, Clone)]
pub enum Action {
    /// The next plugin decides (at the end of the chain: the listener's
    /// default backend).
    Continue,
    /// Forward to the backend of this name.
    Route(String),
    /// Answer the client; nothing is forwarded.
    Respond(Response),
    /// Send this request to a backend first and decide in
    /// [`ReplyHook::on_reply`](crate::ReplyHook::on_reply).
    Ask(Ask),
}

impl Decision {
    /// `continue`: let the next plugin decide.
    pub fn next() -> Decision {
        Decision::from(Action::Continue)
    }

    /// Forward the request to the backend of this name.
    pub fn route(backend: impl Into<String>) -> Decision {
        Decision::from(Action::Route(backend.into()))
    }

    /// Answer the client with `response`.
    pub fn respond(response: Response) -> Decision {
        Decision::from(Action::Respond(response))
    }

    /// Ask another service first (the plugin must have a
    /// [`ReplyHook`](crate::ReplyHook)).
    pub fn ask(ask: Ask) -> Decision {
        Decision::from(Action::Ask(ask))
    }

    /// Sets a header of the request sent upstream (replacing its values).
    pub fn set_request_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Decision {
        self.request_headers.push(HeaderOp::set(name, value));
        self
    }

    /// Adds a value to a header of the request sent upstream.
    pub fn append_request_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Decision {
        self.request_headers.push(HeaderOp::append(name, value));
        self
    }

    /// Removes a header from the request sent upstream.
    pub fn remove_request_header(mut self, name: impl Into<String>) -> Decision {
        self.request_headers.push(HeaderOp::remove(name));
        self
    }

    /// Sets a header of the response sent to the client.
    pub fn set_response_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Decision {
        self.response_headers.push(HeaderOp::set(name, value));
        self
    }

    /// Adds a value to a header of the response sent to the client.
    pub fn append_response_header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Decision {
        self.response_headers.push(HeaderOp::append(name, value));
        self
    }

    /// Removes a header from the response sent to the client.
    pub fn remove_response_header(mut self, name: impl Into<String>) -> Decision {
        self.response_headers.push(HeaderOp::remove(name));
        self
    }
}

impl From<Action> for Decision {
    fn from(action: Action) -> Decision {
        Decision {
            action,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
        }
    }
}

/// Which requests a request hook wants: others skip it without entering
/// Wasm. Empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct Interest {
    /// Only requests that came with one of these schemes.
    pub schemes: Vec<Scheme>,
    /// Only requests whose path starts with one of these prefixes.
    pub path_prefixes: Vec<String>,
}

impl Interest {
    /// Every request.
    pub fn all() -> Interest {
        Interest::default()
    }

    /// Requests whose path starts with one of `prefixes`.
    pub fn paths<P: Into<String>>(prefixes: impl IntoIterator<Item = P>) -> Interest {
        Interest {
            schemes: Vec::new(),
            path_prefixes: prefixes.into_iter().map(Into::into).collect(),
        }
    }

    /// Narrows to requests that came with `scheme` (may be called twice).
    pub fn scheme(mut self, scheme: Scheme) -> Interest {
        self.schemes.push(scheme);
        self
    }
}

/// A part of the request a memoised decision depends on
/// ([`Memo`](crate::Memo)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `req.scheme()`.
    Scheme,
    /// `req.listener()`.
    Listener,
    /// `req.local_port()`.
    LocalPort,
    /// `req.method()`.
    Method,
    /// `req.authority()`.
    Authority,
    /// `req.path()`.
    Path,
    /// `req.query()`.
    Query,
    /// `req.version()`.
    Version,
    /// `req.tls_server_name()`.
    TlsServerName,
}

/// What a request hook's decision depends on: the host reuses it for every
/// request alike in these parts and headers ([`Memo`](crate::Memo)).
#[derive(Debug, Clone, Default)]
pub struct MemoKey {
    /// Parts of the request.
    pub parts: Vec<Part>,
    /// Header names whose values count too.
    pub headers: Vec<String>,
    /// Distinct keys kept at most (0: the host's default, 1,024).
    pub max_entries: u32,
}

impl MemoKey {
    /// A decision that depends on `parts` of the request (and the
    /// plugin's configuration) alone.
    pub fn of(parts: impl IntoIterator<Item = Part>) -> MemoKey {
        MemoKey {
            parts: parts.into_iter().collect(),
            ..MemoKey::default()
        }
    }

    /// ... and on the values of the header `name`.
    pub fn header(mut self, name: impl Into<String>) -> MemoKey {
        self.headers.push(name.into());
        self
    }

    /// Keeps at most `entries` keys (1 to 65,536).
    pub fn max_entries(mut self, entries: u32) -> MemoKey {
        self.max_entries = entries;
        self
    }
}

/// A request the host sends to a backend for the plugin (through the
/// backend's balancer, health checks, pools and retries) before the plugin
/// decides.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The backend's name in the configuration.
    pub backend: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Headers to send (the host adds `Host` and `X-Request-Id`).
    pub headers: Vec<Header>,
    /// The body (at most 64 KiB).
    pub body: Vec<u8>,
    /// How long to wait for the whole reply in milliseconds; 0 takes the
    /// plugin's `ask_timeout` (never more than it).
    pub timeout_ms: u32,
    /// Given back with the reply: the instance that gets it may not be the
    /// one that asked.
    pub context: String,
}

impl Ask {
    /// A request with this method to `path` on `backend`.
    pub fn new(backend: impl Into<String>, method: impl Into<String>, path: impl Into<String>) -> Ask {
        Ask {
            backend: backend.into(),
            method: method.into(),
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: 0,
            context: String::new(),
        }
    }

    /// A `GET` of `path` on `backend`.
    pub fn get(backend: impl Into<String>, path: impl Into<String>) -> Ask {
        Ask::new(backend, "GET", path)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Ask {
        self.headers.push(Header::new(name, value));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Ask {
        self.body = body.into();
        self
    }

    /// Waits at most this long (within the plugin's `ask_timeout`).
    pub fn timeout_ms(mut self, ms: u32) -> Ask {
        self.timeout_ms = ms;
        self
    }

    /// What the plugin wants back with the reply.
    pub fn context(mut self, context: impl Into<String>) -> Ask {
        self.context = context.into();
        self
    }
}

/// What an asked backend answered.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Its status.
    pub status: u16,
    /// Its headers, names in lower case.
    pub headers: Vec<Header>,
    /// Its body, at most the plugin's `ask_max_body` bytes.
    pub body: Vec<u8>,
    /// True when the body was longer and was cut.
    pub truncated: bool,
}

impl Reply {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Why an ask got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskFailure {
    /// No backend of that name in the configuration.
    UnknownBackend,
    /// No server of the backend could be reached.
    Unavailable,
    /// No whole reply within the timeout.
    Timeout,
    /// The answer was not HTTP, or broke off.
    BadReply,
    /// The request already made `max_asks_per_request` asks.
    TooManyAsks,
}

/// How much of the request body the request hook reads before deciding.
#[derive(Debug, Clone, Copy)]
pub struct BodyInterest {
    /// Bytes to buffer (capped by the plugin's `max_body_buffer`); a body
    /// that fits is passed whole.
    pub max_bytes: u32,
    /// What to do with a longer body.
    pub over_limit: OverLimit,
}

impl BodyInterest {
    /// Up to `max_bytes`, a longer body handled as `over_limit` says.
    pub fn up_to(max_bytes: u32, over_limit: OverLimit) -> BodyInterest {
        BodyInterest { max_bytes, over_limit }
    }
}

/// What to do with a body longer than [`BodyInterest::max_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// 413, nothing forwarded.
    Reject,
    /// The plugin is not called; the body is forwarded whole.
    Skip,
    /// The plugin sees the first `max_bytes`; the body is forwarded whole.
    Truncate,
}
