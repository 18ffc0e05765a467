//! The upstream phase: the balancer picks a server, a pooled connection is
//! taken, the request is sent, and failures are retried where that is safe:
//!
//! - no connection could be made: nothing reached the server, so another
//!   server is tried, body untouched, whatever the method;
//! - a pooled connection turned out closed before the request was written:
//!   the client hands the request back, and it is sent again;
//! - the server failed before any response head, for an idempotent request
//!   without a body: it is replayed on another server.
//!
//! At most `retries` further servers are tried; each retry asks the
//! balancer again with the servers already tried left out. When no server
//! can be reached, `fallback.rs` decides what answers.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request, Response, Version};

use super::error::ProxyError;
use super::generation::BalancedBackend;
use super::response_body::ProxyBody;
use crate::body::{BodyTooLarge, ClientBodyBroken, RequestBody};
use crate::in_place::pinned_box;
use crate::plugin::{CandidateServer, CandidateView, HeaderOp, Pick, RequestView};
use crate::report::Report;
use crate::upstream::{ExchangeError, Outcome, Server, TrySendError, UpstreamBody, UpstreamError};

/// Times one attempt may move its unsent request to another connection of
/// the same server after finding a pooled one closed.
const MAX_RESENDS: u32 = 2;

/// A server's response, ready for the client.
pub struct Forwarded {
    /// The response, its body streaming from the server.
    pub response: Response<ProxyBody>,
    /// Edits the balancer asked for (e.g. a sticky-session cookie).
    pub response_edits: Vec<HeaderOp>,
    /// The backend whose server answered.
    pub backend: Arc<str>,
    /// The server that answered.
    pub server: Arc<Server>,
}

/// Tries the servers of one backend, retrying where safe and while the
/// backend's retry budget lasts; every outcome feeds passive health.
/// `now`, a fresh reading of the clock (the request's start when nothing
/// was awaited since), is the first attempt's for the retry budget's
/// window and the pool's idle times (a clock read less each); later
/// attempts read the clock.
pub async fn forward_to(
    target: &BalancedBackend,
    view: &mut RequestView,
    body: &mut Option<RequestBody>,
    replayable: bool,
    now: Instant,
) -> Result<Forwarded, ProxyError> {
    let backend = &target.backend;
    let mut tried: Vec<usize> = Vec::new();
    let mut last_error: Option<UpstreamError> = None;
    backend.retry_budget.record_request(now);
    let attempts = backend.config.retries.saturating_add(1);
    for attempt in 0..attempts {
        if attempt > 0 {
            if !backend.retry_budget.try_retry() {
                tracing::debug!(backend = %backend.name, "retry budget spent: no further attempt");
                break;
            }
            backend.retries.inc();
        }
        let Some((index, response_edits)) = pick(target, view, &tried, attempt)? else {
            break;
        };
        tried.push(index);
        let server = Arc::clone(&backend.servers[index]);
        let now = match attempt {
            0 => now,
            _ => Instant::now(),
        };
        match exchange(target, &server, view, body, replayable, now).await {
            Ok(response) => {
                server.metrics.responses[crate::metrics::class_index(response.status())].inc();
                let outcome = if response.status().is_server_error() {
                    Outcome::ServerError
                } else {
                    Outcome::Answered
                };
                backend.observe(&server, outcome);
                return Ok(Forwarded {
                    response,
                    response_edits,
                    backend: Arc::clone(&backend.name),
                    server,
                });
            }
            Err(error) => {
                if let Some(fault) = client_fault(&error) {
                    return Err(fault);
                }
                if error.counts_against_server() {
                    backend.observe(&server, Outcome::Failed);
                }
                if error.never_reached_server() {
                    server.metrics.connect_errors.inc();
                } else if error.is_timeout() {
                    server.metrics.timeouts.inc();
                } else {
                    server.metrics.other_errors.inc();
                }
                if error.is_tls() {
                    // Every failed handshake: a certificate problem is an
                    // operator's to fix, with the server and the reason.
                    tracing::warn!(backend = %backend.name, server = %server.name, error = %Report(&error), "TLS with the server failed");
                }
                let retry = error.may_retry(replayable);
                tracing::debug!(backend = %backend.name, server = %server.name, error = %Report(&error), retry, "upstream attempt failed");
                if !retry {
                    return Err(error.into());
                }
                last_error = Some(error);
            }
        }
    }
    Err(match last_error {
        Some(error) => {
            tracing::warn!(backend = %backend.name, error = %Report(&error), tried = tried.len(), "no server could answer");
            error.into()
        }
        None => ProxyError::NoServer {
            backend: backend.name.to_string(),
        },
    })
}

/// The client's fault, if sending failed because of its body: over the
/// limit, or broken off or malformed (then nothing is retried and the
/// server is not blamed).
fn client_fault(error: &UpstreamError) -> Option<ProxyError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(too_large) = e.downcast_ref::<BodyTooLarge>() {
            return Some(ProxyError::BodyTooLarge { limit: too_large.limit });
        }
        if e.is::<ClientBodyBroken>() {
            return Some(ProxyError::BadRequest {
                status: http::StatusCode::BAD_REQUEST,
                reason: "the request body broke off or is malformed",
            });
        }
        source = e.source();
    }
    None
}

/// One attempt on one server.
async fn exchange(
    target: &BalancedBackend,
    server: &Arc<Server>,
    view: &mut RequestView,
    body: &mut Option<RequestBody>,
    replayable: bool,
    now: Instant,
) -> Result<Response<ProxyBody>, UpstreamError> {
    let address = server.address;
    let tls = target.backend.config.tls.is_some();
    let in_flight = server.track();
    let upgrade = view.upgrade().is_some();
    let mut connection = match upgrade {
        true => pinned_box(|| server.pool.connect_for_upgrade()).await?,
        false => server.pool.checkout(now).await?,
    };
    // A gRPC call's own deadline bounds the wait too.
    let configured = target.backend.config.response_timeout;
    let deadline = view
        .head
        .extensions
        .get::<super::grpc::GrpcCall>()
        .and_then(|c| c.deadline)
        .filter(|d| *d < configured);
    let timeout = deadline.unwrap_or(configured);
    let mut request = fit(
        upstream_request(view, body, replayable, connection.sender.is_http1()),
        connection.sender.is_http2(),
        tls,
    );
    // A pooled connection can close between checkout and send; then the
    // request is still whole, and another connection carries it. Every
    // way out gives the view back the head the request took from it.
    let mut resends = 0;
    loop {
        let ended = connection.stream.as_ref().map(|s| s.connection_ended().clone());
        let sent = match send_watching(&mut connection.sender, &mut request, ended, timeout).await {
            Sent::Done(Err(failed)) if failed.timed_out() => Err(TimedOut),
            sent => Ok(sent),
        };
        let sent = match sent {
            Ok(Sent::Lost) => {
                tracing::warn!(%address, replayable, "an HTTP/2 connection ended without answering a request");
                give_back_head(view, &mut request);
                if replayable && resends < MAX_RESENDS {
                    resends += 1;
                    connection = server.pool.checkout(Instant::now()).await?;
                    request = fit(
                        upstream_request(view, body, replayable, connection.sender.is_http1()),
                        connection.sender.is_http2(),
                        tls,
                    );
                    continue;
                }
                return Err(UpstreamError::ConnectionLost { address });
            }
            Ok(Sent::Done(result)) => Ok(result),
            Err(TimedOut) => Err(TimedOut),
        };
        let failed = match sent {
            Err(_) if deadline.is_some() => {
                give_back_head(view, &mut request);
                return Err(UpstreamError::CallDeadline {
                    address,
                    after: timeout,
                });
            }
            Err(_) => {
                give_back_head(view, &mut request);
                return Err(UpstreamError::ResponseTimeout {
                    address,
                    after: timeout,
                });
            }
            Ok(Ok(response)) => {
                give_back_head(view, &mut request);
                let (parts, incoming) = response.into_parts();
                let body = UpstreamBody::new(incoming, connection, Arc::clone(server), in_flight);
                return Ok(Response::from_parts(parts, ProxyBody::upstream(body)));
            }
            Ok(Err(failed)) => failed,
        };
        if !failed.unsent() {
            give_back_head(view, &mut request);
            let error = failed.into_error();
            // An HTTP/2 server that refused the stream, or sent GOAWAY
            // before taking it, did not process it (RFC 9113 8.7): a
            // replayable request goes again on another connection.
            if replayable && connection.sender.is_http2() && refused_unprocessed(&error) && resends < MAX_RESENDS {
                resends += 1;
                tracing::debug!(%address, error = %Report(&error), "HTTP/2 stream refused: sending again");
                connection = server.pool.checkout(Instant::now()).await?;
                request = fit(
                    upstream_request(view, body, replayable, connection.sender.is_http1()),
                    connection.sender.is_http2(),
                    tls,
                );
                continue;
            }
            return Err(UpstreamError::Exchange { address, source: error });
        }
        if connection.reused && resends < MAX_RESENDS {
            resends += 1;
            match server.pool.checkout(Instant::now()).await {
                Ok(fresh) => {
                    connection = fresh;
                    request = fit(request, connection.sender.is_http2(), tls);
                    continue;
                }
                Err(e) => {
                    restore(view, body, &mut request);
                    return Err(e);
                }
            }
        }
        restore(view, body, &mut request);
        return Err(UpstreamError::NotSent {
            address,
            source: failed.into_error(),
        });
    }
}

/// How long a request whose HTTP/2 connection has ended still waits for
/// hyper to report what became of its stream.
const LOST_STREAM_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

/// No response head within the response timeout (or a gRPC call's
/// deadline), which the sender keeps.
struct TimedOut;

/// What became of a request handed to a connection (short-lived, on the
/// stack of one attempt: not worth boxing the response for).
#[allow(clippy::large_enum_variant)]
enum Sent {
    /// hyper answered: a response, or the request's failure.
    Done(Result<Response<crate::upstream::Incoming>, TrySendError>),
    /// The HTTP/2 connection ended and hyper never reported the stream
    /// (it can lose one that was opened just as a GOAWAY arrived).
    Lost,
}

/// Sends on `sender`, and for HTTP/2 watches the connection: once it has
/// ended, a request with no answer is given up after a short grace
/// instead of waiting out `response_timeout`.
async fn send_watching(
    sender: &mut crate::upstream::Sender,
    request: &mut Request<RequestBody>,
    ended: Option<tokio_util::sync::CancellationToken>,
    timeout: std::time::Duration,
) -> Sent {
    let send = sender.try_send_request(request, timeout);
    tokio::pin!(send);
    let Some(ended) = ended else {
        return Sent::Done(send.await);
    };
    tokio::select! {
        biased;
        result = &mut send => return Sent::Done(result),
        () = ended.cancelled() => {}
    }
    match tokio::time::timeout(LOST_STREAM_GRACE, send).await {
        Ok(result) => Sent::Done(result),
        Err(_) => Sent::Lost,
    }
}

/// Whether an HTTP/2 error says the server did not process the stream: a
/// `REFUSED_STREAM` reset, or a graceful GOAWAY that left it out.
fn refused_unprocessed(error: &ExchangeError) -> bool {
    let ExchangeError::Hyper(error) = error else {
        return false;
    };
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        source = e.source();
    }
    false
}

/// Marks a request whose client asked for trailers (`TE: trailers`), which
/// an HTTP/2 server is told (gRPC needs it); HTTP/1.1 servers are not.
#[derive(Debug, Clone, Copy)]
pub struct WantsTrailers;

/// The request as the server gets it (before [`fit`] shapes it for the
/// connection's version). A replayable request (idempotent, no body) keeps
/// its head for a retry: `kept` (our HTTP/1.1 client, which leaves the
/// request in our hands) takes it from the view, to be given back after
/// the exchange ([`give_back_head`]); hyper's connections get a copy.
fn upstream_request(
    view: &mut RequestView,
    body: &mut Option<RequestBody>,
    replayable: bool,
    kept: bool,
) -> Request<RequestBody> {
    let (headers, body) = match (replayable, kept) {
        (true, false) => (view.head.headers.clone(), RequestBody::Empty),
        (true, true) => (std::mem::take(&mut view.head.headers), RequestBody::Empty),
        (false, _) => (
            std::mem::take(&mut view.head.headers),
            body.take().unwrap_or(RequestBody::Empty),
        ),
    };
    let mut request = Request::new(body);
    *request.method_mut() = view.head.method.clone();
    *request.uri_mut() = view.head.uri.clone();
    *request.headers_mut() = headers;
    if view.head.extensions.get::<WantsTrailers>().is_some() {
        request.extensions_mut().insert(WantsTrailers);
    }
    request
}

/// Shapes a request for the connection that carries it. HTTP/1.1: an
/// origin-form target and a `Host` header. HTTP/2: an absolute target
/// (`https` when the backend has TLS) whose authority is the `Host` the
/// client asked for, no `Host` header, and `te: trailers` when the client
/// asked for trailers.
fn fit(mut request: Request<RequestBody>, http2: bool, tls: bool) -> Request<RequestBody> {
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    if http2 {
        let authority = request
            .headers_mut()
            .remove(http::header::HOST)
            .and_then(|host| http::uri::Authority::try_from(host.as_bytes()).ok())
            .or_else(|| request.uri().authority().cloned());
        if let Some(authority) = authority {
            let scheme = if tls {
                http::uri::Scheme::HTTPS
            } else {
                http::uri::Scheme::HTTP
            };
            if let Ok(uri) = http::Uri::builder()
                .scheme(scheme)
                .authority(authority)
                .path_and_query(path)
                .build()
            {
                *request.uri_mut() = uri;
            }
        }
        *request.version_mut() = Version::HTTP_2;
        if request.extensions().get::<WantsTrailers>().is_some() {
            request
                .headers_mut()
                .insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        }
    } else {
        // One pass over the names instead of a lookup for each: `Host` is
        // nearly always there and `TE` nearly never.
        let (mut host, mut te) = (false, false);
        for name in request.headers().keys() {
            host |= *name == http::header::HOST;
            te |= *name == http::header::TE;
        }
        if !host {
            if let Some(host) = request
                .uri()
                .authority()
                .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
            {
                request.headers_mut().insert(http::header::HOST, host);
            }
        }
        *request.uri_mut() = http::Uri::from(path);
        *request.version_mut() = Version::HTTP_11;
        if te {
            request.headers_mut().remove(http::header::TE);
        }
    }
    request
}

/// Gives the view back the head the request took from it, where the
/// request still holds it (after an exchange on our HTTP/1.1 client, or
/// one hyper handed back unsent). A view that kept its head (hyper got a
/// copy) keeps it.
fn give_back_head(view: &mut RequestView, request: &mut Request<RequestBody>) {
    if view.head.headers.is_empty() {
        view.head.headers = std::mem::take(request.headers_mut());
    }
}

/// Puts back an unsent request's head and body so another server can get it.
fn restore(view: &mut RequestView, body: &mut Option<RequestBody>, unsent: &mut Request<RequestBody>) {
    give_back_head(view, unsent);
    if body.is_none() {
        *body = Some(std::mem::replace(unsent.body_mut(), RequestBody::Empty));
    }
}

/// Asks the balancer for a server among those not tried yet. `Ok(None)`
/// means no server can take the request.
fn pick(
    target: &BalancedBackend,
    view: &mut RequestView,
    tried: &[usize],
    attempt: u32,
) -> Result<Option<(usize, Vec<HeaderOp>)>, ProxyError> {
    let backend = &target.backend;
    let panic = backend.in_panic();
    let mut indices = Vec::with_capacity(backend.servers.len());
    let mut servers = Vec::with_capacity(backend.servers.len());
    for (i, server) in backend.servers.iter().enumerate() {
        if tried.contains(&i) {
            continue;
        }
        indices.push(i);
        servers.push(CandidateServer {
            key: server.key,
            name: Arc::clone(&server.name),
            address: Arc::clone(&server.address_text),
            weight: server.effective_weight(),
            healthy: server.is_available() || (panic && server.down_only_passively()),
            in_flight: server.in_flight(),
        });
    }
    if servers.is_empty() {
        return Ok(None);
    }
    let mut candidates = CandidateView {
        backend: Arc::clone(&backend.name),
        sequence: backend.next_sequence(),
        attempt,
        servers,
    };
    match target.balancer.pick(view, &mut candidates) {
        Pick::Server { index, response_edits } => Ok(indices.get(index).map(|&i| (i, response_edits))),
        Pick::NoServer => Ok(None),
        Pick::Refused { status, failure } => Err(ProxyError::BalancerFailed {
            backend: backend.name.to_string(),
            plugin: target.balancer.plugin().name().to_string(),
            status,
            failure,
        }),
    }
}

/// Whether a request without a body may be sent again after a failure.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

#[cfg(test)]
mod tests {
    use super::is_idempotent;
    use http::Method;

    #[test]
    fn only_idempotent_methods_are_replayed() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(is_idempotent(&method), "{method}");
        }
        for method in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!is_idempotent(&method), "{method}");
        }
    }
}
