//! What plugins decide, in the host's own types. The proxy and the listener
//! only ever see these; the types wit-bindgen generates from the contract
//! stay inside `bindings.rs` and are converted at the boundary
//! (`convert.rs`), so a new contract version changes the plugin host, not
//! the crate.

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

/// What a request hook does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Let the next plugin decide.
    Continue,
    /// Forward to the backend of this name.
    Route(String),
    /// Answer the client directly.
    Respond(DirectResponse),
}

/// A request hook's answer: its action and its header edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Continue, route or respond.
    pub action: Action,
    /// Edits of the request sent to the server.
    pub request_headers: Vec<HeaderOp>,
    /// Edits of the response sent to the client.
    pub response_headers: Vec<HeaderOp>,
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
