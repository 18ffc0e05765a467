//! Why the proxy could not produce a server's response, who is to blame,
//! and the one place such errors become HTTP responses
//! ([`ProxyError::into_response`]).

use http::{Response, StatusCode};

use super::request_id::RequestId;
use super::response_body::ProxyBody;
use crate::plugin::CallFailure;
use crate::upstream::UpstreamError;

/// The header that carries the request id to the server and back in
/// error pages.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// Who failed a request: recorded in the access log (`blame`) and the
/// metrics (`switchyard_request_errors_total{blame}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The client sent something the proxy refuses (400, 413).
    Client,
    /// A plugin failed (fail-closed), or decided something impossible.
    Plugin,
    /// No server could be reached, or the one reached failed.
    Upstream,
    /// The proxy itself: overloaded, or configured with no route.
    Proxy,
}

impl Blame {
    /// Every kind, in the order metrics index them.
    pub const ALL: [Blame; 4] = [Blame::Client, Blame::Plugin, Blame::Upstream, Blame::Proxy];

    /// `client`, `plugin`, `upstream` or `proxy`.
    pub fn as_str(self) -> &'static str {
        crate::metrics::BLAMES[self.index()]
    }

    /// Its index in [`Blame::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A request the proxy could not forward or answer as asked.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Every plugin continued and the listener has no default backend.
    #[error("no plugin routed the request and listener \"{listener}\" has no default_backend")]
    NoRoute {
        /// The listener's name.
        listener: String,
    },
    /// A plugin routed to a backend the configuration does not have.
    #[error("plugin \"{plugin}\" routed to backend \"{backend}\", which does not exist")]
    UnknownBackend {
        /// The plugin that routed.
        plugin: String,
        /// The backend it named.
        backend: String,
    },
    /// A request hook failed and is fail-closed.
    #[error("plugin \"{plugin}\" failed and is fail-closed")]
    PluginFailed {
        /// The plugin.
        plugin: String,
        /// Its `error_status`.
        status: StatusCode,
        /// Why its call failed.
        #[source]
        failure: CallFailure,
    },
    /// No server of the backend is available.
    #[error("no server of backend \"{backend}\" is available")]
    NoServer {
        /// The backend.
        backend: String,
    },
    /// The backend's balancer failed and is fail-closed.
    #[error("the balancer \"{plugin}\" of backend \"{backend}\" failed and is fail-closed")]
    BalancerFailed {
        /// The backend.
        backend: String,
        /// Its balancer plugin.
        plugin: String,
        /// The plugin's `error_status`.
        status: StatusCode,
        /// Why its call failed.
        #[source]
        failure: CallFailure,
    },
    /// The request body is over the listener's `max_body`.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The listener's `max_body`.
        limit: u64,
    },
    /// The head could be read two ways, or is malformed.
    #[error("{reason}")]
    BadRequest {
        /// 400 and the like.
        status: StatusCode,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `max_in_flight` requests are being handled.
    #[error("too many requests in flight")]
    Overloaded,
    /// `max_tunnels` upgraded connections are open.
    #[error("too many upgraded connections open")]
    TooManyTunnels,
    /// The server could not be reached, failed, or was too slow.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl ProxyError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute { .. }
            | ProxyError::NoServer { .. }
            | ProxyError::Overloaded
            | ProxyError::TooManyTunnels => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BadRequest { status, .. } => *status,
            ProxyError::UnknownBackend { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ProxyError::PluginFailed { status, .. } | ProxyError::BalancerFailed { status, .. } => *status,
            // As HAProxy: no connection to any server is 503, a server
            // that failed mid-exchange 502, a server too slow 504.
            ProxyError::Upstream(e) if e.is_tls() => StatusCode::BAD_GATEWAY,
            ProxyError::Upstream(e) if e.never_reached_server() => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Upstream(e) if e.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    /// Who failed.
    pub fn blame(&self) -> Blame {
        match self {
            ProxyError::BodyTooLarge { .. } | ProxyError::BadRequest { .. } => Blame::Client,
            ProxyError::UnknownBackend { .. } | ProxyError::PluginFailed { .. } | ProxyError::BalancerFailed { .. } => {
                Blame::Plugin
            }
            ProxyError::NoServer { .. } | ProxyError::Upstream(_) => Blame::Upstream,
            ProxyError::NoRoute { .. } | ProxyError::Overloaded | ProxyError::TooManyTunnels => Blame::Proxy,
        }
    }

    /// True when no server could take the request at all, so a backend's
    /// fallback may answer instead.
    pub fn calls_for_fallback(&self) -> bool {
        match self {
            ProxyError::NoServer { .. } => true,
            ProxyError::Upstream(e) => e.never_reached_server(),
            _ => false,
        }
    }

    /// The response the client gets: the status, a one-line reason that
    /// names no internal address, and the request id.
    pub fn into_response(self, id: RequestId) -> Response<ProxyBody> {
        let status = self.status();
        let reason = match &self {
            ProxyError::Upstream(e) if e.is_timeout() => "the server did not answer in time".to_string(),
            ProxyError::Upstream(e) if e.is_tls() => "the server's TLS could not be verified".to_string(),
            ProxyError::Upstream(UpstreamError::UpgradeOverHttp2 { .. }) => {
                "the server speaks HTTP/2 only and cannot take an upgrade".to_string()
            }
            ProxyError::Upstream(_) => "the server did not answer".to_string(),
            ProxyError::UnknownBackend { .. } => "the proxy is misconfigured".to_string(),
            other => other.to_string(),
        };
        error_response(status, &reason, id)
    }
}

/// A small plain-text response the proxy makes itself, naming the request.
pub fn error_response(status: StatusCode, reason: &str, id: RequestId) -> Response<ProxyBody> {
    let body = format!(
        "{} {}\n{}\nrequest id {id}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        reason
    );
    let mut response = Response::new(ProxyBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response.headers_mut().insert(REQUEST_ID, id.header_value());
    response
}
