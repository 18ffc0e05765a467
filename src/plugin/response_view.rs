//! The response head as a response hook sees it: host-owned, read by the
//! `response-head` resource on demand, lent to the store for one call.

use std::sync::Arc;

/// A response head about to reach a client, and where it came from.
#[derive(Debug, Default)]
pub struct ResponseView {
    /// Its status.
    pub status: http::StatusCode,
    /// Its headers (moved in for the call, moved back after).
    pub headers: http::HeaderMap,
    /// Made by the proxy (an error), not by a server.
    pub generated: bool,
    /// The backend the request went to, if any.
    pub backend: Option<Arc<str>>,
    /// The server that answered (none for a generated response).
    pub server: Option<Arc<str>>,
    /// For a generated response: `client`, `plugin`, `upstream` or `proxy`.
    pub blame: Option<&'static str>,
}
