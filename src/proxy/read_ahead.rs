//! The request body the request hooks read before they decide (contract
//! 0.2's `body-hook`): the largest `max-bytes` of the plugins that will see
//! the request is read ahead (or the whole body, if smaller) within the
//! listener's `header_read_timeout`, put in the view for the plugins, and
//! sent first when the body is forwarded; the rest streams on as it
//! arrives. Memory per request: that many bytes, plus one frame.

use hyper::body::Incoming;

use crate::body::{BodyTooLarge, ClientBody};
use crate::config::ListenerLimits;
use crate::plugin::{BufferedBody, RequestChain, RequestView};

use super::ProxyError;

/// The bytes the plugins of `chain` that will see `view` read before they
/// decide: 0 when none does or the request has no body.
pub fn wanted(chain: &RequestChain, view: &RequestView, body: Option<&Incoming>) -> usize {
    match chain.body_wanted(view) {
        0 => 0,
        _ if body.is_none_or(http_body::Body::is_end_stream) => 0,
        wanted => wanted,
    }
}

/// Reads ahead the `wanted` bytes (or the whole body, if smaller) into
/// the view.
pub async fn read(
    wanted: usize,
    view: &mut RequestView,
    body: &mut ClientBody,
    limits: &ListenerLimits,
) -> Result<(), ProxyError> {
    let read = tokio::time::timeout(limits.header_read_timeout, body.read_prefix(wanted)).await;
    let (bytes, complete) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(error)) => {
            return Err(match error.downcast_ref::<BodyTooLarge>() {
                Some(too_large) => ProxyError::BodyTooLarge { limit: too_large.limit },
                None => ProxyError::BadRequest {
                    status: http::StatusCode::BAD_REQUEST,
                    reason: "the request body broke off or is malformed",
                },
            })
        }
        Err(_) => {
            return Err(ProxyError::BadRequest {
                status: http::StatusCode::REQUEST_TIMEOUT,
                reason: "the request body did not arrive in time",
            })
        }
    };
    tracing::debug!(bytes = bytes.len(), complete, "request body read ahead for plugins");
    view.head.extensions.insert(BufferedBody { bytes, complete });
    Ok(())
}
