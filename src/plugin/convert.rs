//! The boundary between the contract's generated types (`bindings.rs`) and
//! the host's own (`decision.rs`, `candidates.rs`): every conversion is
//! here, so nothing outside the plugin host names a generated type.

use super::bindings::exports::switchyard::plugin::{balancer, request_hook};
use super::bindings::switchyard::plugin::types as wit;
use super::candidates::CandidateView;
use super::decision::{Action, Choice, Decision, DirectResponse, Header, HeaderOp, Interest, Scheme};

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

impl From<request_hook::Decision> for Decision {
    fn from(decision: request_hook::Decision) -> Decision {
        let action = match decision.action {
            request_hook::Action::Continue => Action::Continue,
            request_hook::Action::Route(backend) => Action::Route(backend),
            request_hook::Action::Respond(response) => Action::Respond(DirectResponse {
                status: response.status,
                headers: response.headers.into_iter().map(Header::from).collect(),
                body: response.body,
            }),
        };
        Decision {
            action,
            request_headers: edits(decision.request_headers),
            response_headers: edits(decision.response_headers),
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
