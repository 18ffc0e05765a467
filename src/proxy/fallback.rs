//! The one place a backend's fallback is resolved and tried, when no server
//! of the backend could take a request (none available, or none reached):
//!
//! - `fallback_backend`: the request goes to that backend as it was
//!   (nothing reached a server, so its body is untouched); the fallback's
//!   own fallback is not followed;
//! - `fallback_plugin`: that request-hook plugin's `respond` answers;
//!   anything else it says leaves the error as it was.

use std::time::Instant;

use http::Response;

use super::forward::{forward_to, is_idempotent, Forwarded};
use super::generation::{BalancedBackend, Generation};
use super::response_body::ProxyBody;
use super::ProxyError;
use crate::body::{ClientBody, RequestBody};
use crate::config::Fallback;
use crate::plugin::{Action, Decision, RequestView};
use crate::report::Report;

/// Who answered a forwarded request.
pub enum Reply {
    /// A server (of the backend or of its fallback backend).
    Forwarded(Forwarded),
    /// The fallback plugin.
    Answered(Response<ProxyBody>),
}

/// Forwards to `target`, and to its fallback when no server of it could be
/// reached; `now` is a fresh reading of the clock (see `forward_to`).
pub async fn forward_or_fall_back(
    generation: &Generation,
    target: &BalancedBackend,
    view: &mut RequestView,
    body: ClientBody,
    now: Instant,
) -> Result<Reply, ProxyError> {
    let replayable = is_idempotent(&view.head.method) && body.is_end_stream();
    let mut body = Some(RequestBody::Client(body));
    let error = match forward_to(target, view, &mut body, replayable, now).await {
        Ok(forwarded) => return Ok(Reply::Forwarded(forwarded)),
        Err(error) if error.calls_for_fallback() => error,
        Err(error) => return Err(error),
    };
    match &target.backend.config.fallback {
        Some(Fallback::Backend(name)) => match generation.backends.get(name) {
            Some(fallback) => {
                tracing::debug!(backend = %target.backend.name, fallback = %name, "no server could take the request: trying the fallback backend");
                // After the first backend's attempts: the clock read again.
                forward_to(fallback, view, &mut body, replayable, Instant::now())
                    .await
                    .map(Reply::Forwarded)
            }
            None => Err(error),
        },
        Some(Fallback::Plugin(name)) => plugin_answer(generation, name, view).map(Reply::Answered).ok_or(error),
        None => Err(error),
    }
}

/// The fallback plugin's answer, if it responds.
fn plugin_answer(generation: &Generation, plugin: &str, view: &mut RequestView) -> Option<Response<ProxyBody>> {
    let plugin = generation.plugins.get(plugin)?;
    match plugin.on_request(view) {
        Ok(Decision {
            action: Action::Respond(response),
            response_headers,
            ..
        }) => Some(super::direct_response(response, &response_headers)),
        // A memoised answer: the same response, checked before.
        Ok(Decision {
            action: Action::Ready(response),
            response_headers,
            ..
        }) => Some(super::ready_response(&response, &response_headers)),
        Ok(_) => None,
        Err(failure) => {
            tracing::warn!(plugin = %plugin.name(), failure = %Report(&failure), "fallback plugin failed");
            None
        }
    }
}
