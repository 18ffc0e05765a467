//! A listener's request hooks, run in order: each may continue, route or
//! respond; header edits accumulate; a failed call applies the plugin's
//! failure policy (`policy.rs`).

use std::sync::Arc;

use super::decision::{Action, DirectResponse, HeaderOp};
use super::error::CallFailure;
use super::policy::{after_failure, AfterFailure};
use super::request_view::RequestView;
use super::version::PluginVersion;

/// What the chain decided for a request.
#[derive(Debug)]
pub enum Verdict {
    /// Every plugin continued: the listener's default backend.
    Default,
    /// Forward to the backend of this name.
    Route(String),
    /// Answer with this response; nothing is forwarded.
    Respond(DirectResponse),
    /// A plugin failed and its policy is fail-closed: answer this status.
    Refuse {
        /// The plugin's `error_status`.
        status: http::StatusCode,
        /// Why its call failed.
        failure: CallFailure,
    },
}

/// The chain's verdict and everything the plugins that ran asked for.
#[derive(Debug)]
pub struct ChainOutcome {
    /// Where the request goes.
    pub verdict: Verdict,
    /// Edits for the request sent upstream, in order.
    pub request_edits: Vec<HeaderOp>,
    /// Edits for the response sent to the client, in order.
    pub response_edits: Vec<HeaderOp>,
    /// The plugin that ended the chain (routed, responded or failed closed).
    pub decided_by: Option<Arc<PluginVersion>>,
}

/// The request hooks of one listener.
#[derive(Clone, Default)]
pub struct RequestChain {
    plugins: Vec<Arc<PluginVersion>>,
}

impl RequestChain {
    /// The chain of `plugins`, in this order.
    pub fn new(plugins: Vec<Arc<PluginVersion>>) -> RequestChain {
        RequestChain { plugins }
    }

    /// Its plugins, in order.
    pub fn plugins(&self) -> &[Arc<PluginVersion>] {
        &self.plugins
    }

    /// Runs the plugins whose interest matches `view`, until one routes,
    /// responds or fails closed.
    pub fn run(&self, view: &mut RequestView) -> ChainOutcome {
        let mut outcome = ChainOutcome {
            verdict: Verdict::Default,
            request_edits: Vec::new(),
            response_edits: Vec::new(),
            decided_by: None,
        };
        for plugin in &self.plugins {
            if !view.wanted_by(plugin.interest()) {
                continue;
            }
            let decision = match plugin.on_request(view) {
                Ok(decision) => decision,
                Err(failure) => match after_failure(plugin.on_error(), failure) {
                    AfterFailure::Skip => continue,
                    AfterFailure::Refuse { status, failure } => {
                        outcome.verdict = Verdict::Refuse { status, failure };
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
