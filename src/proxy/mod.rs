//! Request orchestration: the one place that knows plugins, backends and
//! servers together. [`Proxy::handle`] reads like the life of a request:
//!
//! 1. pin the current [`Generation`];
//! 2. run the listener's request hooks ([`RequestChain`]): continue, route
//!    or respond, with header edits;
//! 3. a direct response (or a fail-closed plugin) is answered here;
//! 4. otherwise the head is prepared for the server (plugin edits,
//!    hop-by-hop headers removed, `X-Forwarded-For`, `Host`) and
//!    [`forward`](forward::forward) balances, connects, sends and retries;
//! 5. the response's hop-by-hop headers are removed and the plugins'
//!    response edits applied;
//! 6. errors become responses in one place ([`ProxyError::into_response`]).
//!
//! [`RequestChain`]: crate::plugin::RequestChain

mod error;
mod forward;
mod generation;
mod headers;

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

pub use error::{error_response, ProxyError};
pub use generation::{BalancedBackend, Generation, ListenerRoute};
pub use headers::{append_forwarded_for, apply_edits, strip_hop_by_hop};

use crate::body::ProxyBody;
use crate::plugin::{ConnectionInfo, HeaderOp, RequestView, Response as PluginResponse, Verdict};

/// The running proxy's decision state, swapped whole on reload.
pub struct Proxy {
    current: ArcSwap<Generation>,
}

impl Proxy {
    pub fn new(generation: Generation) -> Proxy {
        Proxy {
            current: ArcSwap::from_pointee(generation),
        }
    }

    /// The generation new requests start on.
    pub fn generation(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Publishes a new generation; requests in flight finish on theirs.
    pub fn publish(&self, generation: Generation) {
        self.publish_shared(Arc::new(generation));
    }

    pub fn publish_shared(&self, generation: Arc<Generation>) {
        self.current.store(generation);
    }

    pub async fn handle(&self, request: Request<Incoming>, conn: Arc<ConnectionInfo>) -> Response<ProxyBody> {
        let generation = self.current.load_full();
        let (head, body) = request.into_parts();
        let mut view = RequestView { head, conn };
        let Some(route) = generation.listeners.get(&*view.conn.listener) else {
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "this listener is being reconfigured");
        };
        let outcome = route.chain.run(&mut view);
        let decided_by = || {
            outcome
                .decided_by
                .as_ref()
                .map(|p| p.name().to_string())
                .unwrap_or_default()
        };
        let target = match outcome.verdict {
            Verdict::Respond(response) => return direct_response(response, &outcome.response_edits),
            Verdict::Refuse { status } => {
                let error = ProxyError::PluginFailed {
                    plugin: decided_by(),
                    status,
                };
                return with_edits(error.into_response(), &outcome.response_edits);
            }
            Verdict::Route(ref name) => match generation.backends.get(name) {
                Some(target) => target,
                None => {
                    let error = ProxyError::UnknownBackend {
                        plugin: decided_by(),
                        backend: name.clone(),
                    };
                    tracing::error!(%error, "request routed nowhere");
                    return error.into_response();
                }
            },
            Verdict::Default => match &route.default_backend {
                Some(target) => target,
                None => {
                    let error = ProxyError::NoRoute {
                        listener: view.conn.listener.to_string(),
                    };
                    return with_edits(error.into_response(), &outcome.response_edits);
                }
            },
        };
        prepare_upstream_head(&mut view, &outcome.request_edits);
        match forward::forward(target, &mut view, body).await {
            Ok(forwarded) => {
                tracing::debug!(
                    backend = %target.backend.name,
                    server = %forwarded.server.name,
                    status = forwarded.response.status().as_u16(),
                    "forwarded"
                );
                let mut response = forwarded.response;
                strip_hop_by_hop(response.headers_mut());
                let response = with_edits(response, &outcome.response_edits);
                with_edits(response, &forwarded.response_edits)
            }
            Err(error) => {
                tracing::debug!(%error, backend = %target.backend.name, "request failed");
                with_edits(error.into_response(), &outcome.response_edits)
            }
        }
    }
}

/// Turns the client's head into the one the server gets.
fn prepare_upstream_head(view: &mut RequestView, edits: &[HeaderOp]) {
    // An HTTP/2 client sends `:authority`, an HTTP/1.1 server needs `Host`.
    if !view.head.headers.contains_key(http::header::HOST) {
        if let Some(authority) = view.head.uri.authority() {
            if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
                view.head.headers.insert(http::header::HOST, host);
            }
        }
    }
    strip_hop_by_hop(&mut view.head.headers);
    log_bad_edits(apply_edits(&mut view.head.headers, edits));
    strip_hop_by_hop(&mut view.head.headers);
    append_forwarded_for(&mut view.head.headers, view.conn.client.ip());
}

fn direct_response(plugin: PluginResponse, edits: &[HeaderOp]) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(plugin.status).unwrap_or_else(|_| {
        tracing::warn!(status = plugin.status, "plugin answered an invalid status; sending 500");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let mut response = Response::new(ProxyBody::full(plugin.body));
    *response.status_mut() = status;
    let headers: Vec<HeaderOp> = plugin.headers.into_iter().map(HeaderOp::Append).collect();
    log_bad_edits(apply_edits(response.headers_mut(), &headers));
    strip_hop_by_hop(response.headers_mut());
    with_edits(response, edits)
}

fn with_edits(mut response: Response<ProxyBody>, edits: &[HeaderOp]) -> Response<ProxyBody> {
    if !edits.is_empty() {
        log_bad_edits(apply_edits(response.headers_mut(), edits));
    }
    response
}

fn log_bad_edits(bad: Vec<headers::BadHeaderEdit>) {
    for edit in bad {
        tracing::warn!(%edit, "header edit skipped");
    }
}
