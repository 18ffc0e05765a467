//! Why the proxy could not produce a server's response, and the one place
//! such errors become HTTP responses ([`ProxyError::into_response`]).

use http::{Response, StatusCode};

use super::request_id::RequestId;
use crate::body::ProxyBody;
use crate::upstream::UpstreamError;

/// The header that carries the request id to the server and back in
/// error pages.
pub const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no plugin routed the request and listener \"{listener}\" has no default_backend")]
    NoRoute { listener: String },
    #[error("plugin \"{plugin}\" routed to backend \"{backend}\", which does not exist")]
    UnknownBackend { plugin: String, backend: String },
    #[error("plugin \"{plugin}\" failed and is fail-closed")]
    PluginFailed { plugin: String, status: StatusCode },
    #[error("no server of backend \"{backend}\" is available")]
    NoServer { backend: String },
    #[error("the balancer of backend \"{backend}\" failed and is fail-closed")]
    BalancerFailed { backend: String, status: StatusCode },
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    #[error("{reason}")]
    BadRequest { status: StatusCode, reason: &'static str },
    #[error("too many requests in flight")]
    Overloaded,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute { .. } | ProxyError::NoServer { .. } | ProxyError::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BadRequest { status, .. } => *status,
            ProxyError::UnknownBackend { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            ProxyError::PluginFailed { status, .. } | ProxyError::BalancerFailed { status, .. } => *status,
            // As HAProxy: no connection to any server is 503, a server
            // that failed mid-exchange 502, a server too slow 504.
            ProxyError::Upstream(e) if e.never_reached_server() => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Upstream(e) if e.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Upstream(_) => StatusCode::BAD_GATEWAY,
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
