//! Phases 1 and 2 without a future ([`Proxy::begin`]), and the future
//! that finishes a request which has to wait ([`Proxy::finish`]): for the
//! body its hooks read, an ask's reply, or a server. A request answered
//! by admission or by its request hooks alone (a refusal, a plugin's
//! response, a memoised redirect) never builds, boxes or polls the state
//! the rest of the phases need.

use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;
use tracing::field::display;

use super::{
    admit, ask, decide, fail, grpc, in_flight, read_ahead, response_hooks, upgrade, warn_overloaded, BalancedBackend,
    Decided, Generation, ListenerRoute, Origin, Present, Proxy, ProxyBody, ProxyError, RequestId, Trace,
};
use crate::body::ClientBody;
use crate::in_place::pinned_box;
use crate::plugin::{ChainOutcome, ConnectionInfo, EditList, RequestView, Verdict};

/// What phases 1 and 2 made of a request without waiting.
#[allow(clippy::large_enum_variant)] // Made once per request, moved at once.
pub(super) enum Begun<'g> {
    /// Answered, response hooks included (none for an overload refusal).
    Answered(Response<ProxyBody>),
    /// To be finished by a future.
    Waiting(Waiting<'g>),
}

/// A request `begin` hands on to `finish`.
pub(super) struct Waiting<'g> {
    /// Its place under `max_in_flight`, held until it is answered.
    _place: in_flight::Place<'g>,
    view: RequestView,
    /// The client's body (none: our HTTP/1.1 server read it without one).
    body: Option<Incoming>,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
    next: Next<'g>,
}

/// What a waiting request waits for.
enum Next<'g> {
    /// The body its hooks read (this many bytes at most), before they run.
    ReadAhead(usize),
    /// The reply to the ask in the outcome's verdict (boxed: asks are
    /// rare, and the outcome would size every waiting request).
    Ask(Box<ChainOutcome>),
    /// A server of this backend, with the chain's edits.
    Forward(&'g BalancedBackend, Edits),
}

/// The header edits the chain asked for.
pub(super) struct Edits {
    /// For the request sent to the server.
    pub(super) request: EditList,
    /// For the response the client gets.
    pub(super) response: EditList,
}

/// What a chain's outcome says next.
#[allow(clippy::large_enum_variant)] // Made once per request, moved at once.
enum Concluded<'g> {
    Answered(Response<ProxyBody>, Origin),
    Next(Next<'g>),
}

impl Proxy {
    /// Phases 1 and 2, without waiting: a request refused at admission or
    /// decided by the request hooks alone (a plugin's response, an error)
    /// is answered here, response hooks included (an overload refusal, as
    /// before, gets none); one that has to wait
    /// (for the body its hooks read, an ask, or a server) is handed on to
    /// [`finish`](Proxy::finish).
    pub(super) fn begin<'g>(
        &'g self,
        generation: &'g Generation,
        route: &'g ListenerRoute,
        request: Request<Option<Incoming>>,
        conn: Arc<ConnectionInfo>,
        id: RequestId,
        trace: &mut Trace<'_>,
    ) -> Begun<'g> {
        // 1. admit
        let Some(place) = self.in_flight.try_enter() else {
            warn_overloaded();
            return Begun::Answered(fail(ProxyError::Overloaded, id, trace, &[]));
        };
        let (mut head, body) = request.into_parts();
        // One pass over the fields: those absent are not looked up.
        let present = Present::of(&head.headers);
        if let Some(call) = present.content_type.then(|| grpc::call(&head.headers)).flatten() {
            trace.grpc = true;
            head.extensions.insert(call);
        }
        let client_upgrade = match present.upgrade || head.method == http::Method::CONNECT {
            true => upgrade::note(&mut head),
            false => None,
        };
        let mut view = RequestView { head, conn };
        if let Err(error) = admit(&mut view, route, &present) {
            let response = fail(error, id, trace, &[]);
            return Begun::Answered(with_response_hooks(
                route,
                &mut view,
                response,
                Origin::Proxy,
                trace,
                id,
            ));
        }
        // 2. the request hooks, unless they read the body first
        let next = match read_ahead::wanted(&route.chain, &view, body.as_ref()) {
            0 => {
                let outcome = route.chain.run(&mut view);
                match conclude(generation, route, &view, outcome, id, trace) {
                    Concluded::Answered(response, origin) => {
                        return Begun::Answered(with_response_hooks(route, &mut view, response, origin, trace, id))
                    }
                    Concluded::Next(next) => next,
                }
            }
            wanted => Next::ReadAhead(wanted),
        };
        Begun::Waiting(Waiting {
            _place: place,
            view,
            body,
            client_upgrade,
            next,
        })
    }

    /// The rest of phases 2 to 6 for a request `begin` could not answer at
    /// once, then the response hooks.
    pub(super) async fn finish(
        &self,
        generation: &Generation,
        route: &ListenerRoute,
        waiting: Waiting<'_>,
        id: RequestId,
        trace: &mut Trace<'_>,
    ) -> Response<ProxyBody> {
        let Waiting {
            _place,
            mut view,
            body,
            client_upgrade,
            mut next,
        } = waiting;
        let mut body = ClientBody::new(body, route.limits.max_body);
        // The clock as last read: the head's arrival, until something is
        // awaited (a body read ahead, an ask), which may take seconds; the
        // pool's idle times and the retry budget's window are read at it.
        let mut now = trace.started;
        // 2. the request hooks, after the body they read has arrived, and
        // the asks they make
        let (response, origin) = loop {
            match next {
                Next::ReadAhead(wanted) => {
                    if let Err(error) = read_ahead::read(wanted, &mut view, &mut body, &route.limits).await {
                        break (fail(error, id, trace, &[]), Origin::Proxy);
                    }
                    now = Instant::now();
                    let outcome = route.chain.run(&mut view);
                    next = match conclude(generation, route, &view, outcome, id, trace) {
                        Concluded::Answered(response, origin) => break (response, origin),
                        Concluded::Next(next) => next,
                    };
                }
                Next::Ask(mut outcome) => {
                    let reply = pinned_box(|| ask::send(generation, &route.chain, &view, id, &mut outcome)).await;
                    now = Instant::now();
                    route.chain.resume(&mut view, &mut outcome, reply);
                    next = match conclude(generation, route, &view, *outcome, id, trace) {
                        Concluded::Answered(response, origin) => break (response, origin),
                        Concluded::Next(next) => next,
                    };
                }
                Next::Forward(target, edits) => {
                    break self
                        .forward(
                            generation,
                            target,
                            &edits,
                            &mut view,
                            body,
                            client_upgrade,
                            id,
                            trace,
                            now,
                        )
                        .await
                }
            }
        };
        with_response_hooks(route, &mut view, response, origin, trace, id)
    }
}

/// What the chain's outcome says next: an answer, an ask to send, or a
/// backend.
fn conclude<'g>(
    generation: &'g Generation,
    route: &'g ListenerRoute,
    view: &RequestView,
    mut outcome: ChainOutcome,
    id: RequestId,
    trace: &mut Trace<'_>,
) -> Concluded<'g> {
    if let Verdict::Ask(_) = &outcome.verdict {
        return Concluded::Next(Next::Ask(Box::new(outcome)));
    }
    if let Some(plugin) = &outcome.decided_by {
        trace.span.record("plugin", display(plugin.name()));
    }
    trace.plugin = outcome.decided_by.clone();
    match decide(generation, route, &mut outcome, view, id, trace) {
        Decided::Answer(response, origin) => Concluded::Answered(response, origin),
        Decided::Forward(target) => Concluded::Next(Next::Forward(
            target,
            Edits {
                request: outcome.request_edits,
                response: outcome.response_edits,
            },
        )),
    }
}

/// 6b. The response hooks, on what phases 1 to 6 answered: a server's
/// response or the proxy's error, never a plugin's own or a tunnel's.
fn with_response_hooks(
    route: &ListenerRoute,
    view: &mut RequestView,
    response: Response<ProxyBody>,
    origin: Origin,
    trace: &mut Trace<'_>,
    id: RequestId,
) -> Response<ProxyBody> {
    match origin {
        Origin::Server | Origin::Proxy if !route.responses.is_empty() => {
            response_hooks::run(&route.responses, view, response, origin, trace, id)
        }
        _ => response,
    }
}
