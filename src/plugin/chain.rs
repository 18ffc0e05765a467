//! A listener's request hooks, run in order: each may continue, route,
//! respond or ask another service first; header edits accumulate; a failed
//! call applies the plugin's failure policy (`policy.rs`).
//!
//! An ask pauses the chain: [`RequestChain::run`] returns
//! [`Verdict::Ask`], the proxy sends it, and [`RequestChain::resume`]
//! hands the reply to the asking plugin's `on-reply` and carries on from
//! there. The guest stays synchronous; the host keeps the place.

use std::sync::Arc;

use super::decision::{
    Action, Ask, AskFailure, AskReply, Decision, DirectResponse, EditList, OverLimit, ReadyResponse,
};
use super::error::CallFailure;
use super::policy::{after_failure, AfterFailure};
use super::request_view::{BufferedBody, RequestView};
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
    /// Answer with this response, checked before (a memoised one).
    Ready(Arc<ReadyResponse>),
    /// A plugin failed and its policy is fail-closed: answer this status.
    Refuse {
        /// The plugin's `error_status`.
        status: http::StatusCode,
        /// Why its call failed.
        failure: CallFailure,
    },
    /// The body is longer than a plugin reads, and it says `reject`.
    BodyTooLarge {
        /// That plugin's `max-bytes`.
        limit: usize,
    },
    /// `decided_by` asks a backend first: send it, then `resume`.
    Ask(Ask),
}

/// The chain's verdict and everything the plugins that ran asked for.
#[derive(Debug)]
pub struct ChainOutcome {
    /// Where the request goes.
    pub verdict: Verdict,
    /// Edits for the request sent upstream, in order.
    pub request_edits: EditList,
    /// Edits for the response sent to the client, in order.
    pub response_edits: EditList,
    /// The plugin that ended the chain (routed, responded, failed closed
    /// or asks).
    pub decided_by: Option<Arc<PluginVersion>>,
    /// Where that plugin is in the chain (where `resume` carries on).
    position: usize,
    /// Asks sent so far for this request.
    pub asks: u32,
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

    /// The body bytes the plugins that will see `view` read before they
    /// decide (the largest of their `max-bytes`), 0 when none does.
    pub fn body_wanted(&self, view: &RequestView) -> usize {
        self.plugins
            .iter()
            .filter(|p| view.wanted_by(p.interest()))
            .filter_map(|p| p.body_interest())
            .map(|b| b.max_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Runs the plugins whose interest matches `view`, until one routes,
    /// responds, asks or fails closed. A body `body_wanted` asked for is in
    /// the view's extensions ([`BufferedBody`]) by now.
    pub fn run(&self, view: &mut RequestView) -> ChainOutcome {
        let mut outcome = ChainOutcome {
            verdict: Verdict::Default,
            request_edits: EditList::new(),
            response_edits: EditList::new(),
            decided_by: None,
            position: 0,
            asks: 0,
        };
        self.run_from(0, view, &mut outcome);
        outcome
    }

    /// Counts one more ask for the request; false (nothing counted) once
    /// the asking plugin's `max_asks_per_request` is reached: the ask is
    /// then answered `TooManyAsks` without being sent.
    pub fn count_ask(&self, outcome: &mut ChainOutcome) -> bool {
        let Some(limit) = outcome.decided_by.as_ref().map(|p| p.ask_limits().per_request) else {
            return false;
        };
        if outcome.asks >= limit {
            return false;
        }
        outcome.asks += 1;
        true
    }

    /// Hands the outcome of the ask in `outcome.verdict` to the plugin that
    /// made it, then goes on as its decision says. `reply` is
    /// `TooManyAsks` when the proxy refused to send it.
    /// An `Err` is a failed call of the plugin (it wrote an ask that
    /// cannot be sent).
    pub fn resume(
        &self,
        view: &mut RequestView,
        outcome: &mut ChainOutcome,
        reply: Result<Result<AskReply, AskFailure>, CallFailure>,
    ) {
        let Verdict::Ask(ask) = std::mem::replace(&mut outcome.verdict, Verdict::Default) else {
            return;
        };
        let Some(plugin) = outcome.decided_by.clone() else {
            return;
        };
        let refused = matches!(reply, Ok(Err(AskFailure::TooManyAsks)));
        let decision = reply.and_then(|reply| plugin.on_reply(view, &ask.context, reply));
        let decision = decision.and_then(|decision| match decision.action {
            // Told it may ask no more, it asks again: a bad answer.
            Action::Ask(_) if refused => Err(CallFailure::BadAnswer("asked again past max_asks_per_request".into())),
            _ => Ok(decision),
        });
        let position = outcome.position;
        if self.settle(position, &plugin, decision, outcome) {
            self.run_from(position + 1, view, outcome);
        }
    }

    fn run_from(&self, start: usize, view: &mut RequestView, outcome: &mut ChainOutcome) {
        for (position, plugin) in self.plugins.iter().enumerate().skip(start) {
            if !view.wanted_by(plugin.interest()) {
                continue;
            }
            if let Some(body) = plugin.body_interest() {
                let buffered = view.head.extensions.get::<BufferedBody>();
                let over = buffered.is_some_and(|b| b.bytes.len() > body.max_bytes || !b.complete);
                match (over, body.over_limit) {
                    (true, OverLimit::Reject) => {
                        outcome.verdict = Verdict::BodyTooLarge { limit: body.max_bytes };
                        outcome.decided_by = Some(Arc::clone(plugin));
                        return;
                    }
                    (true, OverLimit::Skip) => continue,
                    _ => {}
                }
            }
            let decision = plugin.on_request(view);
            if !self.settle(position, plugin, decision, outcome) {
                return;
            }
        }
    }

    /// Takes in one plugin's decision (or failure); true when the chain
    /// goes on to the next plugin.
    fn settle(
        &self,
        position: usize,
        plugin: &Arc<PluginVersion>,
        decision: Result<Decision, CallFailure>,
        outcome: &mut ChainOutcome,
    ) -> bool {
        let decision = decision.and_then(|d| match d.action {
            Action::Ask(_) if !plugin.has_reply_hook() => Err(CallFailure::BadAnswer(
                "asked a backend but exports no reply-hook".into(),
            )),
            _ => Ok(d),
        });
        let decision = match decision {
            Ok(decision) => decision,
            Err(failure) => match after_failure(plugin.on_error(), failure) {
                AfterFailure::Skip => return true,
                AfterFailure::Refuse { status, failure } => {
                    outcome.verdict = Verdict::Refuse { status, failure };
                    outcome.decided_by = Some(Arc::clone(plugin));
                    return false;
                }
            },
        };
        outcome.request_edits.append(decision.request_headers);
        outcome.response_edits.append(decision.response_headers);
        outcome.verdict = match decision.action {
            Action::Continue => return true,
            Action::Route(backend) => Verdict::Route(backend),
            Action::Respond(response) => Verdict::Respond(response),
            Action::Ready(response) => Verdict::Ready(response),
            Action::Ask(ask) => Verdict::Ask(ask),
        };
        outcome.decided_by = Some(Arc::clone(plugin));
        outcome.position = position;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::HeaderOp;

    fn remove(name: &str) -> HeaderOp {
        HeaderOp::Remove(name.to_string())
    }

    /// A later plugin's edits come after an earlier one's, which stay,
    /// whether each list is a plugin's own or a memoised (shared) one.
    #[test]
    fn edits_accumulate_in_chain_order() {
        let shared = |ops: Vec<HeaderOp>| EditList::from(ops).shared();
        for (first, second) in [
            (
                EditList::from(vec![remove("a"), remove("b")]),
                EditList::from(vec![remove("c")]),
            ),
            (
                shared(vec![remove("a"), remove("b")]),
                EditList::from(vec![remove("c")]),
            ),
            (
                EditList::from(vec![remove("a"), remove("b")]),
                shared(vec![remove("c")]),
            ),
            (shared(vec![remove("a"), remove("b")]), shared(vec![remove("c")])),
        ] {
            let mut edits = EditList::new();
            edits.append(first.clone());
            edits.append(EditList::new());
            edits.append(shared(Vec::new()));
            edits.append(second.clone());
            assert_eq!(edits, [remove("a"), remove("b"), remove("c")], "{first:?} {second:?}");
            assert_eq!(first, [remove("a"), remove("b")], "the first list is left as it was");
        }
    }
}
