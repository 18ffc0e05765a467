//! Request orchestration: the one place that knows plugins, backends and
//! servers together. [`Proxy::handle`] follows the phase chart of the life
//! of a request in the [crate documentation](crate#the-life-of-a-request),
//! one named function per phase: [`admit`], the chain
//! ([`RequestChain::run`]), [`decide`], [`prepare_upstream_head`], then
//! `forward.rs` (balance and exchange, with retries) and `fallback.rs`
//! (when no server could be reached), [`Proxy::forward`], the response
//! hooks (`begin.rs`) and the accounting in [`Proxy::handle`]. Errors
//! become responses in one place, [`fail`].
//!
//! Phases 1 and 2 run without a future ([`Proxy::begin`]): a request
//! refused at admission or answered by its request hooks alone (a
//! memoised redirect) is answered there, without building, boxing and
//! polling the state the rest needs. A request that has to wait (for the
//! body its hooks read, an ask, or a server) goes on in [`Proxy::finish`].
//!
//! [`RequestChain::run`]: crate::plugin::RequestChain::run

mod ask;
mod begin;
mod error;
mod fallback;
mod forward;
mod generation;
mod grpc;
mod head_checks;
mod headers;
mod in_flight;
mod path;
mod read_ahead;
mod request_id;
mod response_body;
mod response_hooks;
mod upgrade;

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use tracing::field::{display, Empty};
use tracing::Instrument;

pub use error::{error_response, Blame, ProxyError, REQUEST_ID};
pub use generation::{BalancedBackend, Generation, ListenerRoute, MissingBalancer};
pub use head_checks::{check_head, Refusal};
use head_checks::{check_present, Present};
pub use headers::{append_forwarded_for, apply_edits, strip_hop_by_hop};
pub use request_id::RequestId;
pub use response_body::{fields_into_map, ProxyBody};

use crate::access_log::{AccessLog, Entry};
use crate::body::ClientBody;
use crate::in_place::pinned_box;
use crate::log_throttle::ThrottledLog;
use crate::metrics::{class_index, metrics};
use crate::plugin::{
    ChainOutcome, ConnectionInfo, DirectResponse, HeaderOp, PluginVersion, ReadyResponse, RequestView, Verdict,
};
use crate::report::Report;
use crate::tunnel::Tunnels;
use begin::{Begun, Edits};
use fallback::{forward_or_fall_back, Reply};

/// The running proxy's decision state, swapped whole on reload.
pub struct Proxy {
    current: ArcSwap<Generation>,
    /// Requests being handled, under `max_in_flight` (fixed at start).
    in_flight: in_flight::InFlight,
    access_log: Option<AccessLog>,
    /// Upgraded connections, which outlive generations.
    tunnels: Tunnels,
    /// Cancelled when a stop begins its handover: `/health` then says not
    /// ready and listeners close connections after their response, while
    /// still accepting (see `handover_delay`).
    handover: tokio_util::sync::CancellationToken,
}

/// What became of a request, for its span, the metrics and the access log.
struct Trace<'s> {
    /// The request's span, to record on (cheaper than `Span::current()`).
    span: &'s tracing::Span,
    backend: Option<Arc<str>>,
    server: Option<Arc<str>>,
    plugin: Option<Arc<PluginVersion>>,
    /// Who failed it, when the proxy answered with an error.
    blame: Option<Blame>,
    /// A gRPC call: errors are answered as gRPC statuses.
    grpc: bool,
    /// When the request's head had arrived: its duration's start, and the
    /// "now" of the way to a server (a pooled connection's idle time, the
    /// retry budget's window) when nothing was awaited before it.
    started: Instant,
}

/// What `Proxy::handle` answers.
pub struct Handled {
    /// The response for the client.
    pub response: Response<ProxyBody>,
    /// When it was ready (read for the request's duration): the `Date` a
    /// server writes for it.
    pub finished: Instant,
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
#[allow(clippy::large_enum_variant)] // Made once per request, moved at once.
enum Decided<'g> {
    /// Answered here: a plugin's response, or an error.
    Answer(Response<ProxyBody>, Origin),
    /// To this backend.
    Forward(&'g BalancedBackend),
}

impl Proxy {
    /// A proxy serving `generation`.
    pub fn new(generation: Generation) -> Proxy {
        let limit = generation.config.limits.max_in_flight;
        let tunnels = Tunnels::new(generation.config.limits.max_tunnels);
        Proxy {
            current: ArcSwap::from_pointee(generation),
            in_flight: in_flight::InFlight::new(limit),
            access_log: None,
            tunnels,
            handover: tokio_util::sync::CancellationToken::new(),
        }
    }

    /// Starts handing over: this proxy reports itself not ready, so a
    /// virtual IP or an outer balancer moves traffic away, and closes each
    /// connection after its response; it keeps accepting until shutdown.
    pub fn begin_handover(&self) {
        if !self.handover.is_cancelled() {
            tracing::info!("handing over: /health reports not ready; connections close after their response");
        }
        self.handover.cancel();
    }

    /// Whether a handover (or a stop) has begun.
    pub fn handing_over(&self) -> bool {
        self.handover.is_cancelled()
    }

    /// Fires when a handover begins.
    pub fn handover_started(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.handover.cancelled()
    }

    /// Logs every request to `log`.
    pub fn with_access_log(mut self, log: Option<AccessLog>) -> Proxy {
        self.access_log = log;
        self
    }

    /// The open tunnels (upgraded connections).
    pub fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }

    /// The generation new requests start on.
    pub fn generation(&self) -> Arc<Generation> {
        self.current.load_full()
    }

    /// Publishes a new generation; requests in flight finish on theirs.
    pub fn publish(&self, generation: Generation) {
        self.publish_shared(Arc::new(generation));
    }

    /// Publishes a generation someone else holds too (the reloader).
    pub fn publish_shared(&self, generation: Arc<Generation>) {
        self.current.store(generation);
    }

    /// The life of one request (see the crate documentation), in its own
    /// span: `request{id listener backend server plugin}`. The body is
    /// hyper's, or none when our own HTTP/1.1 server read a request
    /// without one. `started` is when its head had arrived; the answer
    /// says when the response was ready (a `Date` for it, without reading
    /// the clock again).
    pub async fn handle(
        &self,
        request: Request<Option<Incoming>>,
        conn: Arc<ConnectionInfo>,
        started: Instant,
    ) -> Handled {
        let _gauge = InFlightGauge::new();
        let id = RequestId::next();
        let span = tracing::info_span!(
            "request",
            %id,
            listener = %conn.listener,
            backend = Empty,
            server = Empty,
            plugin = Empty
        );
        let logged = self.access_log.as_ref().map(|_| {
            let target = request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().path().to_string(), |p| p.as_str().to_string());
            (request.method().to_string(), target, request.version())
        });
        let mut trace = Trace {
            span: &span,
            backend: None,
            server: None,
            plugin: None,
            blame: None,
            grpc: false,
            started,
        };
        // The generation is pinned for the whole request.
        let generation = self.current.load_full();
        let route = generation.listeners.get(&*conn.listener);
        let response = match route {
            Some(route) => {
                // In the span without `in_scope`: its closure would take the
                // request (264 bytes) by value, two copies more. The guard
                // ends before anything is awaited.
                let begun = {
                    let _entered = span.enter();
                    self.begin(&generation, route, request, Arc::clone(&conn), id, &mut trace)
                };
                match begun {
                    Begun::Answered(response) => response,
                    // Boxed before instrumenting: the phases' state (kilobytes)
                    // is written once, into the box, instead of being moved
                    // into the span's wrapper and again into this future. A
                    // request answered by `begin` builds neither.
                    Begun::Waiting(waiting) => {
                        pinned_box(|| self.finish(&generation, route, waiting, id, &mut trace))
                            .instrument(span.clone())
                            .await
                    }
                }
            }
            None => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "this listener is being reconfigured",
                id,
            ),
        };
        // 7. account
        let finished = Instant::now();
        let elapsed = finished.saturating_duration_since(started);
        if let Some(route) = route {
            route.metrics.requests[class_index(response.status())].inc();
            route.metrics.duration.observe(elapsed.as_secs_f64());
            if let Some(blame) = trace.blame {
                route.metrics.errors[blame.index()].inc();
            }
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
                blame: trace.blame.map(Blame::as_str),
            });
        }
        Handled { response, finished }
    }

    /// Phases 3 to 6 for a request the chain sent to `target`.
    #[allow(clippy::too_many_arguments)] // One request's pieces, each used once.
    async fn forward(
        &self,
        generation: &Generation,
        target: &BalancedBackend,
        edits: &Edits,
        view: &mut RequestView,
        body: ClientBody,
        client_upgrade: Option<hyper::upgrade::OnUpgrade>,
        id: RequestId,
        trace: &mut Trace<'_>,
        now: Instant,
    ) -> (Response<ProxyBody>, Origin) {
        // An upgrade needs a place under max_tunnels before anything goes.
        let upgrade = view.upgrade().cloned();
        let tunnel = match &upgrade {
            Some(_) => match self.tunnels.reserve() {
                Some(permit) => Some(permit),
                None => {
                    let response = fail(ProxyError::TooManyTunnels, id, trace, &edits.response);
                    return (response, Origin::Proxy);
                }
            },
            None => None,
        };
        // 3. prepare the head for the server
        prepare_upstream_head(view, &edits.request, id);
        if let Some(upgrade) = &upgrade {
            upgrade::prepare(view, upgrade);
        }
        trace.backend = Some(Arc::clone(&target.backend.name));
        trace.span.record("backend", display(&target.backend.name));
        // 4. balance, 5. exchange (retries, fallback), 6. respond. Boxed:
        // inline, it makes `finish`'s box that much larger to copy, which
        // measured no better (docs/performance.md).
        match pinned_box(|| forward_or_fall_back(generation, target, view, body, now)).await {
            Ok(Reply::Forwarded(forwarded)) => {
                let span = trace.span;
                span.record("backend", display(&forwarded.backend));
                span.record("server", display(&forwarded.server.name));
                trace.backend = Some(forwarded.backend);
                trace.server = Some(Arc::clone(&forwarded.server.name));
                tracing::debug!(status = forwarded.response.status().as_u16(), "forwarded");
                let mut response = forwarded.response;
                let mut origin = Origin::Server;
                if let (Some(upgrade), Some(permit)) = (&upgrade, tunnel) {
                    let idle = target.backend.config.tunnel_idle_timeout;
                    response = upgrade::answer(response, client_upgrade, upgrade, &self.tunnels, permit, idle);
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS || view.head.method == http::Method::CONNECT
                    {
                        origin = Origin::Tunnel;
                    }
                }
                let status = response.status();
                strip_hop_by_hop_unless_switching(response.headers_mut(), status);
                let response = with_edits(response, &edits.response);
                (with_edits(response, &forwarded.response_edits), origin)
            }
            Ok(Reply::Answered(response)) => (with_edits(response, &edits.response), Origin::Plugin),
            Err(error) => (fail(error, id, trace, &edits.response), Origin::Proxy),
        }
    }
}

/// Who made a response, for the response hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A server: the response hooks see it.
    Server,
    /// The proxy, for an error: the response hooks see it.
    Proxy,
    /// A plugin's own `respond`: it is final.
    Plugin,
    /// A switch of protocols (or an extended CONNECT's 200): a tunnel.
    Tunnel,
}

/// The one place an error becomes the client's response: logged with its
/// causes, its blame recorded, the chain's response edits applied.
fn fail(error: ProxyError, id: RequestId, trace: &mut Trace<'_>, edits: &[HeaderOp]) -> Response<ProxyBody> {
    let blame = error.blame();
    trace.blame = Some(blame);
    match blame {
        Blame::Client => tracing::debug!(blame = blame.as_str(), error = %Report(&error), "request refused"),
        _ => tracing::debug!(blame = blame.as_str(), error = %Report(&error), "request failed"),
    }
    let response = match trace.grpc {
        true => grpc::error_response(&error, id),
        false => error.into_response(id),
    };
    with_edits(response, edits)
}

/// Refuses a request before any plugin runs: a head that could be read two
/// ways, a path that cannot be normalised, or a declared body over the
/// listener's limit. A path that normalising changes is replaced here, so
/// plugins and the server see the same one.
fn admit(view: &mut RequestView, route: &ListenerRoute, present: &Present) -> Result<(), ProxyError> {
    let limits = &route.limits;
    check_present(&view.head, present).map_err(|r| ProxyError::BadRequest {
        status: r.status,
        reason: r.reason,
    })?;
    match path::normalize(view.head.uri.path(), &route.normalize_path) {
        Ok(None) => {}
        Ok(Some(normal)) => replace_path(&mut view.head.uri, &normal),
        Err(refusal) => {
            return Err(ProxyError::BadRequest {
                status: StatusCode::BAD_REQUEST,
                reason: refusal.reason(),
            })
        }
    }
    let declared = match present.content_length {
        false => None,
        true => view
            .head
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
    };
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
    trace: &mut Trace<'_>,
) -> Decided<'g> {
    let verdict = std::mem::replace(&mut outcome.verdict, Verdict::Default);
    let decided_by = || {
        outcome
            .decided_by
            .as_ref()
            .map(|p| p.name().to_string())
            .unwrap_or_default()
    };
    let error = match verdict {
        Verdict::Respond(response) => {
            return Decided::Answer(direct_response(response, &outcome.response_edits), Origin::Plugin)
        }
        Verdict::Ready(response) => {
            return Decided::Answer(ready_response(&response, &outcome.response_edits), Origin::Plugin)
        }
        Verdict::BodyTooLarge { limit } => ProxyError::BodyTooLarge { limit: limit as u64 },
        // `conclude` hands every ask on before it decides.
        Verdict::Ask(_) => ProxyError::NoRoute {
            listener: view.conn.listener.to_string(),
        },
        Verdict::Refuse { status, failure } => ProxyError::PluginFailed {
            plugin: decided_by(),
            status,
            failure,
        },
        Verdict::Route(name) => match generation.backends.get(&name) {
            Some(target) => return Decided::Forward(target),
            None => {
                let error = ProxyError::UnknownBackend {
                    plugin: decided_by(),
                    backend: name,
                };
                tracing::error!(error = %error, "request routed nowhere");
                error
            }
        },
        Verdict::Default => match &route.default_backend {
            Some(target) => return Decided::Forward(target),
            None => ProxyError::NoRoute {
                listener: view.conn.listener.to_string(),
            },
        },
    };
    Decided::Answer(fail(error, id, trace, &outcome.response_edits), Origin::Proxy)
}

/// `uri` with its path replaced, query and authority kept.
fn replace_path(uri: &mut http::Uri, path: &str) {
    let mut parts = uri.clone().into_parts();
    let path_and_query = match parts.path_and_query.as_ref().and_then(|p| p.query()) {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    parts.path_and_query = http::uri::PathAndQuery::try_from(path_and_query).ok();
    if let Ok(normal) = http::Uri::from_parts(parts) {
        *uri = normal;
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
    // One growth of the map at most, for a head made elsewhere (hyper's,
    // for HTTP/2) or many edits; our HTTP/1.1 server's has the room.
    view.head.headers.reserve(edits.len() + ADDED_FIELDS);
    // One pass over the fields instead of a lookup for each below.
    let scan = headers::Scan::of(&view.head.headers);
    // gRPC and other trailer users say so; an HTTP/2 server is told again.
    if scan.te && asks_for_trailers(&view.head.headers) {
        view.head.extensions.insert(forward::WantsTrailers);
    }
    // An HTTP/2 client sends `:authority`, an HTTP/1.1 server needs `Host`.
    if !scan.host {
        if let Some(authority) = view.head.uri.authority() {
            if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
                view.head.headers.insert(http::header::HOST, host);
            }
        }
    }
    // `Host` is not hop-by-hop: the scan still holds for the strip.
    headers::strip_scanned(&mut view.head.headers, &scan);
    if !edits.is_empty() {
        log_bad_edits(headers::apply_request_edits(&mut view.head.headers, edits));
    }
    append_forwarded_for(&mut view.head.headers, &view.conn.client_ip);
    view.head.headers.insert(REQUEST_ID, id.header_value());
}

/// Fields the proxy adds to a request on its way to a server, at most,
/// besides the plugins' edits: `Host` (from an HTTP/2 `:authority`),
/// `X-Forwarded-For`, `x-request-id`, and one spare.
pub const ADDED_FIELDS: usize = 4;

/// Removes hop-by-hop headers, but not from a 101: its `Connection` and
/// `Upgrade` are the switch itself.
fn strip_hop_by_hop_unless_switching(headers: &mut http::HeaderMap, status: StatusCode) {
    if status != StatusCode::SWITCHING_PROTOCOLS {
        strip_hop_by_hop(headers);
    }
}

/// Whether `TE` lists `trailers`.
fn asks_for_trailers(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
}

/// A plugin's own response, with the chain's response edits.
fn direct_response(plugin: DirectResponse, edits: &[HeaderOp]) -> Response<ProxyBody> {
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

/// A plugin's response checked before (a memoised one): its fields'
/// lines shared (or, with a hop-by-hop field, its map copied and
/// stripped), its body shared, the chain's response edits applied.
fn ready_response(ready: &Arc<ReadyResponse>, edits: &[HeaderOp]) -> Response<ProxyBody> {
    let mut response = match &ready.lines {
        // Whatever reads the map moves them into it (`fields_into_map`).
        Some(_) => Response::new(ProxyBody::ready(Arc::clone(ready))),
        None => {
            let mut response = Response::new(ProxyBody::full(ready.body.clone()));
            *response.headers_mut() = ready.headers.clone();
            strip_hop_by_hop(response.headers_mut());
            response
        }
    };
    *response.status_mut() = ready.status;
    with_edits(response, edits)
}

fn with_edits(mut response: Response<ProxyBody>, edits: &[HeaderOp]) -> Response<ProxyBody> {
    if !edits.is_empty() {
        fields_into_map(&mut response);
        log_bad_edits(apply_edits(response.headers_mut(), edits));
    }
    response
}

fn log_bad_edits(bad: Vec<headers::BadHeaderEdit>) {
    for edit in bad {
        tracing::warn!(%edit, "header edit skipped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Header;
    use bytes::Bytes;
    use http_body_util::BodyExt;

    fn header(name: &str, value: &str) -> Header {
        Header {
            name: name.into(),
            value: value.as_bytes().to_vec(),
        }
    }

    /// What a client gets of a response: its status, its fields in order
    /// (as the map holds them once what was kept outside is moved in) and
    /// its body.
    async fn seen(mut response: Response<ProxyBody>) -> (StatusCode, Vec<(String, String)>, Bytes) {
        fields_into_map(&mut response);
        let fields = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        (parts.status, fields, body)
    }

    /// A memoised response (its lines shared) is the plugin's own, with
    /// the chain's response edits applied the same way: a field set, one
    /// removed, one added.
    #[tokio::test]
    async fn a_memoised_response_is_the_plugins_own_with_the_same_edits() {
        let plugin = DirectResponse {
            status: 302,
            headers: vec![
                header("location", "https://a/b"),
                header("content-type", "text/plain"),
                header("x-a", "1"),
                header("x-a", "2"),
            ],
            body: b"moved".to_vec(),
        };
        let edits = [
            HeaderOp::Set(header("content-type", "text/html")),
            HeaderOp::Remove("x-a".into()),
            HeaderOp::Append(header("x-b", "3")),
        ];
        let Some(ready) = plugin.ready().map(Arc::new) else {
            panic!("a valid response")
        };
        assert!(ready.lines.is_some(), "kept as lines");
        for edits in [&edits[..], &[]] {
            let own = seen(direct_response(plugin.clone(), edits)).await;
            let memoised = seen(ready_response(&ready, edits)).await;
            assert_eq!(memoised, own, "with {edits:?}");
        }
    }

    /// A `Content-Length` the map's writer would read otherwise than the
    /// lines (a sign, a list) keeps the response in its map.
    #[test]
    fn only_a_plain_length_goes_into_lines() {
        for (length, lines) in [("5", true), ("+5", false), ("5, 5", false), ("", false)] {
            let plugin = DirectResponse {
                status: 200,
                headers: vec![header("content-length", length)],
                body: b"hello".to_vec(),
            };
            let ready = plugin.ready().map(|r| r.lines.is_some());
            assert_eq!(ready, Some(lines), "{length:?}");
        }
    }
}
