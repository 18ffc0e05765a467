//! Request orchestration: the one place that knows plugins, backends and
//! servers together. [`Proxy::handle`] reads like the life of a request:
//!
//! 1. give the request an id and a place under `max_in_flight`; pin the
//!    current [`Generation`]; check the head ([`check_head`]) and a declared
//!    body size;
//! 2. run the listener's request hooks ([`RequestChain`]): continue, route
//!    or respond, with header edits;
//! 3. a direct response (or a fail-closed plugin) is answered here;
//! 4. otherwise the head is prepared for the server (plugin edits,
//!    hop-by-hop headers removed, `X-Forwarded-For`, `Host`,
//!    `x-request-id`) and `forward.rs` balances, connects, sends and
//!    retries (within the retry budget, feeding passive health), then tries
//!    the backend's fallback backend;
//! 5. the response's hop-by-hop headers are removed and the plugins'
//!    response edits applied; a fallback plugin answers when no server
//!    could;
//! 6. errors become responses in one place ([`ProxyError::into_response`]);
//! 7. the request is counted (metrics) and logged (access log).
//!
//! [`RequestChain`]: crate::plugin::RequestChain

mod error;
mod forward;
mod generation;
mod head_checks;
mod headers;
mod request_id;

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::sync::Semaphore;

pub use error::{error_response, ProxyError, REQUEST_ID};
pub use generation::{BalancedBackend, Generation, ListenerRoute};
pub use head_checks::{check_head, Refusal};
pub use headers::{append_forwarded_for, apply_edits, strip_hop_by_hop};
pub use request_id::RequestId;

use crate::access_log::{AccessLog, Entry};
use crate::body::{ClientBody, ProxyBody};
use crate::config::{Fallback, ListenerLimits};
use crate::log_throttle::ThrottledLog;
use crate::metrics::{class_index, metrics};
use crate::plugin::{
    Action, ChainOutcome, ConnectionInfo, Decision, HeaderOp, RequestView, Response as PluginResponse, Verdict,
};

/// The running proxy's decision state, swapped whole on reload.
pub struct Proxy {
    current: ArcSwap<Generation>,
    /// Requests being handled; `max_in_flight` permits (fixed at start).
    in_flight: Semaphore,
    access_log: Option<AccessLog>,
}

/// What became of a request, for the metrics and the access log.
#[derive(Default)]
struct Trace {
    backend: Option<Arc<str>>,
    server: Option<Arc<str>>,
    plugin: Option<Arc<crate::plugin::PluginVersion>>,
}

/// Counts a request in the in-flight gauge while it lives (also when the
/// client goes away and the request's future is dropped).
struct InFlightGauge;

impl InFlightGauge {
    fn new() -> InFlightGauge {
        metrics().in_flight.inc();
        InFlightGauge
    }
}

impl Drop for InFlightGauge {
    fn drop(&mut self) {
        metrics().in_flight.dec();
    }
}

/// Where the chain sent a request.
enum Decided<'g> {
    Answer(Response<ProxyBody>),
    Forward(&'g BalancedBackend),
}

impl Proxy {
    pub fn new(generation: Generation) -> Proxy {
        let permits = generation.config.limits.max_in_flight.min(Semaphore::MAX_PERMITS);
        Proxy {
            current: ArcSwap::from_pointee(generation),
            in_flight: Semaphore::new(permits),
            access_log: None,
        }
    }

    /// Logs every request to `log`.
    pub fn with_access_log(mut self, log: Option<AccessLog>) -> Proxy {
        self.access_log = log;
        self
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
        let started = Instant::now();
        let _gauge = InFlightGauge::new();
        let id = RequestId::next();
        let logged = self.access_log.as_ref().map(|_| {
            let target = request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().path().to_string(), |p| p.as_str().to_string());
            (request.method().to_string(), target, request.version())
        });
        let mut trace = Trace::default();
        // The generation is pinned for the whole request.
        let generation = self.current.load_full();
        let route = generation.listeners.get(&*conn.listener);
        let response = match route {
            Some(route) => {
                self.respond(&generation, route, request, Arc::clone(&conn), id, &mut trace)
                    .await
            }
            None => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "this listener is being reconfigured",
                id,
            ),
        };
        let elapsed = started.elapsed();
        if let Some(route) = route {
            route.metrics.requests[class_index(response.status())].inc();
            route.metrics.duration.observe(elapsed.as_secs_f64());
        }
        if let (Some(log), Some((method, target, version))) = (&self.access_log, logged) {
            let (time, duration_ms) = Entry::now(elapsed);
            log.record(Entry {
                time,
                client: conn.client,
                listener: Arc::clone(&conn.listener),
                method,
                target,
                version: crate::plugin::version_name(version),
                status: response.status().as_u16(),
                bytes: http_body::Body::size_hint(response.body()).exact(),
                duration_ms,
                backend: trace.backend,
                server: trace.server,
                plugin: trace.plugin.map(|p| p.name().to_string()),
                request_id: id.to_string(),
            });
        }
        response
    }

    async fn respond(
        &self,
        generation: &Generation,
        route: &ListenerRoute,
        request: Request<Incoming>,
        conn: Arc<ConnectionInfo>,
        id: RequestId,
        trace: &mut Trace,
    ) -> Response<ProxyBody> {
        let Ok(_permit) = self.in_flight.try_acquire() else {
            warn_overloaded();
            return ProxyError::Overloaded.into_response(id);
        };
        let (head, body) = request.into_parts();
        let mut view = RequestView { head, conn };
        if let Err(error) = admit(&view, &route.limits) {
            return error.into_response(id);
        }
        let mut outcome = route.chain.run(&mut view);
        trace.plugin = outcome.decided_by.clone();
        let target = match decide(generation, route, &mut outcome, &view, id) {
            Decided::Answer(response) => return response,
            Decided::Forward(target) => target,
        };
        prepare_upstream_head(&mut view, &outcome.request_edits, id);
        let fallback = match &target.backend.config.fallback {
            Some(Fallback::Backend(name)) => generation.backends.get(name),
            _ => None,
        };
        let targets: Vec<&BalancedBackend> = std::iter::once(target).chain(fallback).collect();
        trace.backend = Some(Arc::clone(&target.backend.name));
        let body = ClientBody::new(body, route.limits.max_body);
        match forward::forward(&targets, &mut view, body).await {
            Ok(forwarded) => {
                trace.server = Some(Arc::clone(&forwarded.server.name));
                tracing::debug!(%id, backend = %target.backend.name, server = %forwarded.server.name, status = forwarded.response.status().as_u16(), "forwarded");
                let mut response = forwarded.response;
                strip_hop_by_hop(response.headers_mut());
                let response = with_edits(response, &outcome.response_edits);
                with_edits(response, &forwarded.response_edits)
            }
            Err(error) => {
                tracing::debug!(%id, %error, backend = %target.backend.name, "request failed");
                let answer = match &target.backend.config.fallback {
                    Some(Fallback::Plugin(name)) if error.calls_for_fallback() => {
                        fallback_answer(generation, name, &mut view)
                    }
                    _ => None,
                };
                let response = answer.unwrap_or_else(|| error.into_response(id));
                with_edits(response, &outcome.response_edits)
            }
        }
    }
}

/// Refuses a request before any plugin runs: a head that could be read two
/// ways, or a declared body over the listener's limit.
fn admit(view: &RequestView, limits: &ListenerLimits) -> Result<(), ProxyError> {
    check_head(&view.head).map_err(|r| ProxyError::BadRequest {
        status: r.status,
        reason: r.reason,
    })?;
    let declared = view
        .head
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match (limits.max_body, declared) {
        (Some(limit), Some(length)) if length > limit => Err(ProxyError::BodyTooLarge { limit }),
        _ => Ok(()),
    }
}

/// Turns the chain's verdict into an answer or a backend.
fn decide<'g>(
    generation: &'g Generation,
    route: &'g ListenerRoute,
    outcome: &mut ChainOutcome,
    view: &RequestView,
    id: RequestId,
) -> Decided<'g> {
    let verdict = std::mem::replace(&mut outcome.verdict, Verdict::Default);
    let decided_by = || {
        outcome
            .decided_by
            .as_ref()
            .map(|p| p.name().to_string())
            .unwrap_or_default()
    };
    let answer = |error: ProxyError| Decided::Answer(with_edits(error.into_response(id), &outcome.response_edits));
    match verdict {
        Verdict::Respond(response) => Decided::Answer(direct_response(response, &outcome.response_edits)),
        Verdict::Refuse { status } => answer(ProxyError::PluginFailed {
            plugin: decided_by(),
            status,
        }),
        Verdict::Route(name) => match generation.backends.get(&name) {
            Some(target) => Decided::Forward(target),
            None => {
                let error = ProxyError::UnknownBackend {
                    plugin: decided_by(),
                    backend: name,
                };
                tracing::error!(%id, %error, "request routed nowhere");
                answer(error)
            }
        },
        Verdict::Default => match &route.default_backend {
            Some(target) => Decided::Forward(target),
            None => answer(ProxyError::NoRoute {
                listener: view.conn.listener.to_string(),
            }),
        },
    }
}

/// A backend's fallback plugin, asked when no server could answer: its
/// `respond` is the answer (anything else leaves the error as it is).
fn fallback_answer(generation: &Generation, plugin: &str, view: &mut RequestView) -> Option<Response<ProxyBody>> {
    let plugin = generation.plugins.get(plugin)?;
    match plugin.on_request(view) {
        Ok(Decision {
            action: Action::Respond(response),
            response_headers,
            ..
        }) => Some(direct_response(response, &response_headers)),
        Ok(_) => None,
        Err(failure) => {
            tracing::warn!(plugin = %plugin.name(), %failure, "fallback plugin failed");
            None
        }
    }
}

/// Logs overload at most once a second.
fn warn_overloaded() {
    static LOG: ThrottledLog = ThrottledLog::new();
    if let Some(refused) = LOG.tick() {
        tracing::warn!(refused, "max_in_flight reached: answering 503");
    }
}

/// Turns the client's head into the one the server gets.
fn prepare_upstream_head(view: &mut RequestView, edits: &[HeaderOp], id: RequestId) {
    // An HTTP/2 client sends `:authority`, an HTTP/1.1 server needs `Host`.
    if !view.head.headers.contains_key(http::header::HOST) {
        if let Some(authority) = view.head.uri.authority() {
            if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
                view.head.headers.insert(http::header::HOST, host);
            }
        }
    }
    strip_hop_by_hop(&mut view.head.headers);
    if !edits.is_empty() {
        log_bad_edits(apply_edits(&mut view.head.headers, edits));
        // A plugin cannot make a connection-level header reach the server.
        strip_hop_by_hop(&mut view.head.headers);
    }
    append_forwarded_for(&mut view.head.headers, &view.conn.client_ip);
    view.head.headers.insert(REQUEST_ID, id.header_value());
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
