//! A listener's request hooks, run in order: each may continue, route or
//! respond; header edits accumulate; a failed call applies the plugin's
//! failure policy.

use std::sync::Arc;

use super::bindings::exports::switchyard::plugin::request_hook::{Action, Response};
use super::bindings::switchyard::plugin::types::HeaderOp;
use super::request_view::RequestView;
use super::version::PluginVersion;
use crate::config::FailurePolicy;

/// What the chain decided for a request.
#[derive(Debug)]
pub enum Verdict {
    /// Every plugin continued: the listener's default backend.
    Default,
    /// Forward to the backend of this name.
    Route(String),
    /// Answer with this response; nothing is forwarded.
    Respond(Response),
    /// A plugin failed and its policy is fail-closed: answer this status.
    Refuse { status: http::StatusCode },
}

#[derive(Debug)]
pub struct ChainOutcome {
    pub verdict: Verdict,
    /// Edits for the request sent upstream, in order.
    pub request_edits: Vec<HeaderOp>,
    /// Edits for the response sent to the client, in order.
    pub response_edits: Vec<HeaderOp>,
    /// The plugin that ended the chain (routed, responded or failed closed).
    pub decided_by: Option<Arc<PluginVersion>>,
}

#[derive(Clone, Default)]
pub struct RequestChain {
    plugins: Vec<Arc<PluginVersion>>,
}

impl RequestChain {
    pub fn new(plugins: Vec<Arc<PluginVersion>>) -> RequestChain {
        RequestChain { plugins }
    }

    pub fn plugins(&self) -> &[Arc<PluginVersion>] {
        &self.plugins
    }

    pub fn run(&self, view: &mut RequestView) -> ChainOutcome {
        let mut outcome = ChainOutcome {
            verdict: Verdict::Default,
            request_edits: Vec::new(),
            response_edits: Vec::new(),
            decided_by: None,
        };
        for plugin in &self.plugins {
            if !plugin.interest().matches(view) {
                continue;
            }
            let decision = match plugin.on_request(view) {
                Ok(decision) => decision,
                Err(_) => match plugin.on_error() {
                    FailurePolicy::Open => continue,
                    FailurePolicy::Closed { status } => {
                        outcome.verdict = Verdict::Refuse { status };
                        outcome.decided_by = Some(Arc::clone(plugin));
                        return outcome;
                    }
                },
            };
            outcome.request_edits.extend(decision.request_headers);
            outcome.response_edits.extend(decision.response_headers);
            let verdict = match decision.action {
                Action::Continue => continue,
                Action::Route(backend) => Verdict::Route(backend),
                Action::Respond(response) => Verdict::Respond(response),
            };
            outcome.verdict = verdict;
            outcome.decided_by = Some(Arc::clone(plugin));
            return outcome;
        }
        outcome
    }
}
