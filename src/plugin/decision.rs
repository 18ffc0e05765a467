//! What plugins decide, in the host's own types. The proxy and the listener
//! only ever see these; the types wit-bindgen generates from the contract
//! stay inside `bindings.rs` and are converted at the boundary
//! (`convert.rs`), so a new contract version changes the plugin host, not
//! the crate.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::fields::Fields;
use crate::header_names::FieldKind;

/// The scheme a client used to reach a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// A plain listener.
    Http,
    /// A TLS listener.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A header as a plugin wrote it: checked only when it is applied (an
/// invalid name or value is skipped and logged then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Case-insensitive name.
    pub name: String,
    /// Bytes, as HTTP allows non-UTF-8 field values.
    pub value: Vec<u8>,
}

/// One edit of a header map, applied in order after the chain has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderOp {
    /// Remove every value of the header, then add this one.
    Set(Header),
    /// Add a value, keeping those present.
    Append(Header),
    /// Remove every value of the named header.
    Remove(String),
    /// One of the above, already checked as HTTP: how the memo keeps a
    /// decision it reuses, so a hit is neither cloned as strings nor
    /// parsed again.
    Checked(CheckedOp),
}

/// A header edit whose name and value are valid HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckedOp {
    /// Remove every value of the header, then add this one.
    Set(HeaderName, HeaderValue),
    /// Add a value, keeping those present.
    Append(HeaderName, HeaderValue),
    /// Remove every value of the header.
    Remove(HeaderName),
}

impl HeaderOp {
    /// This edit in checked form; unchanged when it is not valid HTTP
    /// (then it is skipped and logged each time it is applied, as any
    /// plugin's invalid edit).
    pub fn checked(self) -> HeaderOp {
        let checked = match &self {
            HeaderOp::Set(h) => h.checked().map(|(name, value)| CheckedOp::Set(name, value)),
            HeaderOp::Append(h) => h.checked().map(|(name, value)| CheckedOp::Append(name, value)),
            HeaderOp::Remove(name) => HeaderName::from_bytes(name.as_bytes()).ok().map(CheckedOp::Remove),
            HeaderOp::Checked(_) => None,
        };
        checked.map_or(self, HeaderOp::Checked)
    }
}

impl Header {
    /// Its name and value as HTTP's, if both are valid.
    pub fn checked(&self) -> Option<(HeaderName, HeaderValue)> {
        let name = HeaderName::from_bytes(self.name.as_bytes()).ok()?;
        let value = HeaderValue::from_bytes(&self.value).ok()?;
        Some((name, value))
    }
}

/// A response a plugin answers with instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectResponse {
    /// The status code as the plugin gave it (checked when sent).
    pub status: u16,
    /// Headers, appended in order.
    pub headers: Vec<Header>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl DirectResponse {
    /// This response checked as HTTP once, when its status and every
    /// header are valid (an invalid one is reported each time the response
    /// is sent, so it keeps its raw form).
    pub fn ready(&self) -> Option<ReadyResponse> {
        let status = StatusCode::from_u16(self.status).ok()?;
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        for header in &self.headers {
            let (name, value) = header.checked()?;
            headers.append(name, value);
        }
        // Without a hop-by-hop field (which each response strips) they
        // can go out as written here, the same for every response; and
        // only with a plain `Content-Length`, which the lines and the
        // map's writer read alike (the map's takes one number, the lines
        // a list of the same number too).
        let hop_by_hop = headers
            .keys()
            .any(|name| FieldKind::of(name.as_str().as_bytes()).is_hop_by_hop());
        let plain_length = headers
            .get_all(http::header::CONTENT_LENGTH)
            .iter()
            .all(|v| (1..=19).contains(&v.len()) && v.as_bytes().iter().all(u8::is_ascii_digit));
        let lines = match hop_by_hop || !plain_length {
            true => None,
            false => Fields::shared_from(&headers),
        };
        Some(ReadyResponse {
            status,
            headers,
            lines,
            body: Bytes::copy_from_slice(&self.body),
        })
    }
}

/// A plugin's response already checked as HTTP: the memo keeps one for a
/// decision that answers many requests, each sent as a copy of its head
/// (or its lines, shared) and a shared body.
#[derive(Debug, Clone)]
pub struct ReadyResponse {
    /// The status.
    pub status: StatusCode,
    /// Its headers, in the plugin's order.
    pub headers: HeaderMap,
    /// The same headers as HTTP/1.1 field lines, written once, when none
    /// is hop-by-hop: each response shares them instead of a copy of the
    /// map, and our HTTP/1.1 server copies them out whole.
    pub lines: Option<Fields>,
    /// The whole body.
    pub body: Bytes,
}

impl PartialEq for ReadyResponse {
    /// `lines` are made from `headers`.
    fn eq(&self, other: &ReadyResponse) -> bool {
        self.status == other.status && self.headers == other.headers && self.body == other.body
    }
}

impl Eq for ReadyResponse {}

/// What a request hook does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Let the next plugin decide.
    Continue,
    /// Forward to the backend of this name.
    Route(String),
    /// Answer the client directly.
    Respond(DirectResponse),
    /// Answer the client with a response checked before (a memoised
    /// `Respond`).
    Ready(Arc<ReadyResponse>),
    /// Ask a backend first, and decide on its reply (contract 0.2).
    Ask(Ask),
}

/// A request a plugin has the host send before it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// The backend's name.
    pub backend: String,
    /// The method, as the plugin wrote it (checked when sent).
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers to send.
    pub headers: Vec<Header>,
    /// The body to send.
    pub body: Vec<u8>,
    /// The plugin's own bound on the wait (0: its `ask_timeout`).
    pub timeout_ms: u32,
    /// Given back to the plugin with the reply.
    pub context: String,
}

/// What an asked backend answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskReply {
    /// Its status.
    pub status: u16,
    /// Its headers, in order.
    pub headers: Vec<Header>,
    /// Its body, cut at the plugin's `ask_max_body`.
    pub body: Vec<u8>,
    /// Whether the body was cut.
    pub truncated: bool,
}

/// Why an ask got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskFailure {
    /// No backend of that name.
    UnknownBackend,
    /// No server of it could be reached.
    Unavailable,
    /// No whole reply in time.
    Timeout,
    /// Not HTTP, or broken off.
    BadReply,
    /// Past `max_asks_per_request`.
    TooManyAsks,
}

impl AskFailure {
    /// Its name in logs and `plugin test` output.
    pub fn as_str(self) -> &'static str {
        match self {
            AskFailure::UnknownBackend => "unknown-backend",
            AskFailure::Unavailable => "unavailable",
            AskFailure::Timeout => "timeout",
            AskFailure::BadReply => "bad-reply",
            AskFailure::TooManyAsks => "too-many-asks",
        }
    }
}

/// How much of the body a request hook reads before it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyInterest {
    /// Bytes to buffer (already capped by the plugin's `max_body_buffer`).
    pub max_bytes: usize,
    /// What a longer body leads to.
    pub over_limit: OverLimit,
}

/// What a body longer than a plugin's `max_bytes` leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// 413.
    Reject,
    /// The plugin is not called.
    Skip,
    /// The plugin sees the first `max_bytes`.
    Truncate,
}

/// Which responses a response hook wants, matched natively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseInterest {
    /// Inclusive status ranges; empty: every status.
    pub statuses: Vec<(u16, u16)>,
    /// A server's responses.
    pub from_server: bool,
    /// The proxy's own (errors).
    pub from_proxy: bool,
}

impl ResponseInterest {
    /// Whether a response of `status`, generated or not, enters the plugin.
    pub fn matches(&self, status: u16, generated: bool) -> bool {
        let origin = if generated { self.from_proxy } else { self.from_server };
        origin
            && (self.statuses.is_empty()
                || self
                    .statuses
                    .iter()
                    .any(|&(first, last)| (first..=last).contains(&status)))
    }
}

/// A response hook's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseDecision {
    /// A response to send instead, if any.
    pub replace: Option<DirectResponse>,
    /// Edits of the response sent to the client.
    pub headers: Vec<HeaderOp>,
}

/// Header edits, in order: a plugin's own list, one shared by every
/// request a memoised decision answers (cloned for a reference count, not
/// copied op by op), or several plugins' lists made one.
#[derive(Debug)]
pub struct EditList(Edits);

impl Clone for EditList {
    /// An empty list (most decisions' edits) is a new one: `Vec`'s clone
    /// of no element still goes through its copy, twice a memo hit.
    fn clone(&self) -> EditList {
        match &self.0 {
            Edits::Owned(ops) if ops.is_empty() => EditList::new(),
            edits => EditList(edits.clone()),
        }
    }
}

#[derive(Debug, Clone)]
enum Edits {
    Owned(Vec<HeaderOp>),
    Shared(Arc<[HeaderOp]>),
}

impl EditList {
    /// No edits.
    pub const fn new() -> EditList {
        EditList(Edits::Owned(Vec::new()))
    }

    /// The same edits, shared by every clone from now on (none stay an
    /// empty `Vec`: cloned and dropped for nothing, no count to touch).
    pub fn shared(self) -> EditList {
        match self.0 {
            Edits::Owned(ops) if !ops.is_empty() => EditList(Edits::Shared(ops.into())),
            edits => EditList(edits),
        }
    }

    /// Adds `more` after these: `more` itself when there are none yet
    /// (the common case: one plugin edits), not a copy of it.
    pub fn append(&mut self, more: EditList) {
        if more.is_empty() {
            return;
        }
        if self.is_empty() {
            *self = more;
            return;
        }
        match (&mut self.0, more.0) {
            (Edits::Owned(ops), Edits::Owned(more)) => ops.extend(more),
            (Edits::Owned(ops), Edits::Shared(more)) => ops.extend_from_slice(&more),
            (Edits::Shared(ops), more) => {
                let mut joined = ops.to_vec();
                joined.extend_from_slice(&EditList(more));
                self.0 = Edits::Owned(joined);
            }
        }
    }
}

impl Default for EditList {
    fn default() -> EditList {
        EditList::new()
    }
}

impl std::ops::Deref for EditList {
    type Target = [HeaderOp];

    fn deref(&self) -> &[HeaderOp] {
        match &self.0 {
            Edits::Owned(ops) => ops,
            Edits::Shared(ops) => ops,
        }
    }
}

impl From<Vec<HeaderOp>> for EditList {
    fn from(ops: Vec<HeaderOp>) -> EditList {
        EditList(Edits::Owned(ops))
    }
}

impl FromIterator<HeaderOp> for EditList {
    fn from_iter<I: IntoIterator<Item = HeaderOp>>(ops: I) -> EditList {
        EditList(Edits::Owned(ops.into_iter().collect()))
    }
}

impl PartialEq for EditList {
    fn eq(&self, other: &EditList) -> bool {
        **self == **other
    }
}

impl Eq for EditList {}

impl<const N: usize> PartialEq<[HeaderOp; N]> for EditList {
    fn eq(&self, other: &[HeaderOp; N]) -> bool {
        **self == other[..]
    }
}

/// A request hook's answer: its action and its header edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Continue, route or respond.
    pub action: Action,
    /// Edits of the request sent to the server.
    pub request_headers: EditList,
    /// Edits of the response sent to the client.
    pub response_headers: EditList,
}

impl Decision {
    /// The same decision with what is valid HTTP in it checked once: its
    /// edits (shared from now on), and its response made ready to send.
    pub fn checked(&self) -> Decision {
        let action = match &self.action {
            Action::Respond(response) => match response.ready() {
                Some(ready) => Action::Ready(Arc::new(ready)),
                None => Action::Respond(response.clone()),
            },
            other => other.clone(),
        };
        // Shared: each request the memo answers clones them for a count.
        let checked = |ops: &[HeaderOp]| {
            ops.iter()
                .cloned()
                .map(HeaderOp::checked)
                .collect::<EditList>()
                .shared()
        };
        Decision {
            action,
            request_headers: checked(&self.request_headers),
            response_headers: checked(&self.response_headers),
        }
    }
}

/// A balancer's pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Index of the chosen candidate.
    pub server: u32,
    /// Edits of the response sent to the client (a sticky cookie, say).
    pub response_headers: Vec<HeaderOp>,
}

/// A request hook's declared interest, matched natively before each call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interest {
    /// Empty: every scheme.
    pub schemes: Vec<Scheme>,
    /// Empty: every path.
    pub path_prefixes: Vec<String>,
}

impl Interest {
    /// Whether a request with this scheme and path enters the plugin.
    pub fn matches(&self, scheme: Scheme, path: &str) -> bool {
        (self.schemes.is_empty() || self.schemes.contains(&scheme))
            && (self.path_prefixes.is_empty() || self.path_prefixes.iter().any(|p| path.starts_with(p.as_str())))
    }
}
