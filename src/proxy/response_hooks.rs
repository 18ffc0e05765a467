//! Phase 6b: the listener's response hooks on the response a client is
//! about to get, a server's or one the proxy generated (an error). The
//! head is lent to each plugin that wants its status; edits apply in
//! order, a replacement is what the next plugin sees. A plugin's own
//! `respond` and a switch of protocols never come here.

use http::{Response, StatusCode};

use super::{direct_response, fail, fields_into_map, log_bad_edits, Origin, ProxyBody, ProxyError, RequestId, Trace};
use crate::plugin::{RequestView, ResponseChain, ResponseOutcome, ResponseView};
use crate::proxy::apply_edits;

/// Runs the response hooks that want `response`.
pub(super) fn run(
    chain: &ResponseChain,
    view: &mut RequestView,
    mut response: Response<ProxyBody>,
    origin: Origin,
    trace: &mut Trace<'_>,
    id: RequestId,
) -> Response<ProxyBody> {
    let generated = origin == Origin::Proxy;
    for plugin in chain.plugins() {
        // Matched on the current status: a replacement may have changed it.
        let wanted = plugin
            .response_interest()
            .is_some_and(|i| i.matches(response.status().as_u16(), generated));
        if !wanted {
            continue;
        }
        fields_into_map(&mut response);
        let mut head = ResponseView {
            status: response.status(),
            headers: std::mem::take(response.headers_mut()),
            generated,
            backend: trace.backend.clone(),
            server: if generated { None } else { trace.server.clone() },
            blame: trace.blame.map(super::Blame::as_str),
        };
        let outcome = ResponseChain::call(plugin, view, &mut head);
        *response.headers_mut() = head.headers;
        match outcome {
            None => {}
            Some(ResponseOutcome::Edit(edits)) => log_bad_edits(apply_edits(response.headers_mut(), &edits)),
            Some(ResponseOutcome::Replace(replacement, edits)) => {
                tracing::debug!(plugin = %plugin.name(), from = response.status().as_u16(), to = replacement.status, "response replaced by a plugin");
                response = direct_response(replacement, &edits);
            }
            Some(ResponseOutcome::Refuse {
                status,
                failure,
                plugin,
            }) => {
                let error = ProxyError::PluginFailed {
                    plugin,
                    status,
                    failure,
                };
                response = fail(error, id, trace, &[]);
            }
        }
    }
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // A plugin cannot make a response a switch of protocols.
        *response.status_mut() = StatusCode::BAD_GATEWAY;
    }
    response
}
