//! The boundary between contract 0.2's generated types (`bindings::v2`)
//! and the host's own (`decision.rs`, `candidates.rs`): every conversion
//! for 0.2 is here (0.1's are in `compat.rs`), so nothing outside the
//! plugin host names a generated type.

use super::bindings::v2::exports::switchyard::plugin::{
    balancer, body_hook, memo, reply_hook, request_hook, response_hook,
};
use super::bindings::v2::switchyard::plugin::types as wit;
use super::candidates::CandidateView;
use super::decision::{
    Action, Ask, AskFailure, AskReply, BodyInterest, Choice, Decision, DirectResponse, Header, HeaderOp, Interest,
    OverLimit, ResponseDecision, ResponseInterest, Scheme,
};

impl From<wit::Scheme> for Scheme {
    fn from(scheme: wit::Scheme) -> Scheme {
        match scheme {
            wit::Scheme::Http => Scheme::Http,
            wit::Scheme::Https => Scheme::Https,
        }
    }
}

impl From<Scheme> for wit::Scheme {
    fn from(scheme: Scheme) -> wit::Scheme {
        match scheme {
            Scheme::Http => wit::Scheme::Http,
            Scheme::Https => wit::Scheme::Https,
        }
    }
}

impl From<wit::Header> for Header {
    fn from(header: wit::Header) -> Header {
        Header {
            name: header.name,
            value: header.value,
        }
    }
}

impl From<Header> for wit::Header {
    fn from(header: Header) -> wit::Header {
        wit::Header {
            name: header.name,
            value: header.value,
        }
    }
}

impl From<wit::HeaderOp> for HeaderOp {
    fn from(op: wit::HeaderOp) -> HeaderOp {
        match op {
            wit::HeaderOp::Set(header) => HeaderOp::Set(header.into()),
            wit::HeaderOp::Append(header) => HeaderOp::Append(header.into()),
            wit::HeaderOp::Remove(name) => HeaderOp::Remove(name),
        }
    }
}

fn edits(ops: Vec<wit::HeaderOp>) -> Vec<HeaderOp> {
    ops.into_iter().map(HeaderOp::from).collect()
}

fn direct(response: request_hook::Response) -> DirectResponse {
    DirectResponse {
        status: response.status,
        headers: response.headers.into_iter().map(Header::from).collect(),
        body: response.body,
    }
}

impl From<request_hook::Decision> for Decision {
    fn from(decision: request_hook::Decision) -> Decision {
        let action = match decision.action {
            request_hook::Action::Continue => Action::Continue,
            request_hook::Action::Route(backend) => Action::Route(backend),
            request_hook::Action::Respond(response) => Action::Respond(direct(response)),
            request_hook::Action::Ask(ask) => Action::Ask(Ask {
                backend: ask.backend,
                method: ask.method,
                path: ask.path,
                headers: ask.headers.into_iter().map(Header::from).collect(),
                body: ask.body,
                timeout_ms: ask.timeout_ms,
                context: ask.context,
            }),
        };
        Decision {
            action,
            request_headers: edits(decision.request_headers).into(),
            response_headers: edits(decision.response_headers).into(),
        }
    }
}

impl From<balancer::Choice> for Choice {
    fn from(choice: balancer::Choice) -> Choice {
        Choice {
            server: choice.server,
            response_headers: edits(choice.response_headers),
        }
    }
}

impl From<request_hook::Interest> for Interest {
    fn from(interest: request_hook::Interest) -> Interest {
        Interest {
            schemes: interest.schemes.into_iter().map(Scheme::from).collect(),
            path_prefixes: interest.path_prefixes,
        }
    }
}

impl From<response_hook::ResponseInterest> for ResponseInterest {
    fn from(interest: response_hook::ResponseInterest) -> ResponseInterest {
        ResponseInterest {
            statuses: interest.statuses.into_iter().map(|r| (r.first, r.last)).collect(),
            from_server: interest.from_server,
            from_proxy: interest.from_proxy,
        }
    }
}

impl From<response_hook::ResponseDecision> for ResponseDecision {
    fn from(decision: response_hook::ResponseDecision) -> ResponseDecision {
        ResponseDecision {
            replace: match decision.action {
                response_hook::ResponseAction::Continue => None,
                response_hook::ResponseAction::Replace(response) => Some(direct(response)),
            },
            headers: edits(decision.headers),
        }
    }
}

/// The body interest, with the plugin's cap applied.
pub(crate) fn body_interest(interest: body_hook::BodyInterest, cap: usize) -> BodyInterest {
    BodyInterest {
        max_bytes: (interest.max_bytes as usize).min(cap),
        over_limit: match interest.over_limit {
            body_hook::OverLimit::Reject => OverLimit::Reject,
            body_hook::OverLimit::Skip => OverLimit::Skip,
            body_hook::OverLimit::Truncate => OverLimit::Truncate,
        },
    }
}

/// A memo declaration, checked: header names must be valid, `max-entries`
/// at most [`super::memo::MAX_ENTRIES`] (0 takes the default).
pub(crate) fn memo_key(key: memo::MemoKey) -> Result<super::memo::MemoKey, String> {
    use memo::RequestParts as P;
    let has = |part: P| key.parts.contains(part);
    let parts = super::memo::Parts {
        scheme: has(P::SCHEME),
        listener: has(P::LISTENER),
        local_port: has(P::LOCAL_PORT),
        method: has(P::METHOD),
        authority: has(P::AUTHORITY),
        path: has(P::PATH),
        query: has(P::QUERY),
        version: has(P::VERSION),
        tls_server_name: has(P::TLS_SERVER_NAME),
    };
    let headers = key
        .headers
        .iter()
        .map(|name| {
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("memo: {name:?} is not a header name"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let max_entries = match key.max_entries as usize {
        0 => super::memo::DEFAULT_ENTRIES,
        n if n > super::memo::MAX_ENTRIES => {
            return Err(format!("memo: max-entries {n} is over {}", super::memo::MAX_ENTRIES))
        }
        n => n,
    };
    Ok(super::memo::MemoKey {
        parts,
        headers,
        max_entries,
    })
}

/// An ask's outcome, as `on-reply` receives it.
pub(crate) fn reply_record(outcome: Result<AskReply, AskFailure>) -> Result<reply_hook::Reply, reply_hook::AskFailure> {
    match outcome {
        Ok(reply) => Ok(reply_hook::Reply {
            status: reply.status,
            headers: reply.headers.into_iter().map(wit::Header::from).collect(),
            body: reply.body,
            truncated: reply.truncated,
        }),
        Err(failure) => Err(match failure {
            AskFailure::UnknownBackend => reply_hook::AskFailure::UnknownBackend,
            AskFailure::Unavailable => reply_hook::AskFailure::Unavailable,
            AskFailure::Timeout => reply_hook::AskFailure::Timeout,
            AskFailure::BadReply => reply_hook::AskFailure::BadReply,
            AskFailure::TooManyAsks => reply_hook::AskFailure::TooManyAsks,
        }),
    }
}

/// The eager part of the candidates, as the guest receives it.
pub(crate) fn candidate_records(view: &CandidateView) -> Vec<balancer::Candidate> {
    view.servers
        .iter()
        .map(|s| balancer::Candidate {
            key: s.key,
            weight: s.weight,
            healthy: s.healthy,
            in_flight: s.in_flight,
        })
        .collect()
}
