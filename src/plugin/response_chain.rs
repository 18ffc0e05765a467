//! A listener's response hooks: the plugins of its `plugins` list that
//! export `response-hook`, run in reverse order (the last to see the
//! request is the first to see the response), each only for the responses
//! its interest names. Each may edit the headers or replace the response;
//! a replacement is what the next one sees. A failed call applies the
//! plugin's failure policy (`policy.rs`): fail-open skips it, fail-closed
//! answers its `error_status` instead.

use std::sync::Arc;

use super::decision::{DirectResponse, HeaderOp};
use super::policy::{after_failure, AfterFailure};
use super::request_view::RequestView;
use super::response_view::ResponseView;
use super::version::PluginVersion;
use super::CallFailure;

/// The response hooks of one listener, in the order they run.
#[derive(Clone, Default)]
pub struct ResponseChain {
    plugins: Vec<Arc<PluginVersion>>,
}

/// What a response hook asked for.
#[derive(Debug)]
pub enum ResponseOutcome {
    /// Apply these edits to the response.
    Edit(Vec<HeaderOp>),
    /// Send this instead, then apply the edits.
    Replace(DirectResponse, Vec<HeaderOp>),
    /// The plugin failed closed: answer its status.
    Refuse {
        /// The plugin's `error_status`.
        status: http::StatusCode,
        /// Why its call failed.
        failure: CallFailure,
        /// The plugin's name.
        plugin: String,
    },
}

impl ResponseChain {
    /// The response hooks among `plugins` (a listener's request-hook
    /// order), reversed.
    pub fn new(plugins: &[Arc<PluginVersion>]) -> ResponseChain {
        ResponseChain {
            plugins: plugins
                .iter()
                .rev()
                .filter(|p| p.has_response_hook())
                .cloned()
                .collect(),
        }
    }

    /// Whether no plugin would run (the common case costs one check).
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Its plugins, in the order they run.
    pub fn plugins(&self) -> &[Arc<PluginVersion>] {
        &self.plugins
    }

    /// Runs one plugin on `response`; `None` when it failed open.
    pub fn call(
        plugin: &PluginVersion,
        view: &mut RequestView,
        response: &mut ResponseView,
    ) -> Option<ResponseOutcome> {
        match plugin.on_response(view, response) {
            Ok(decision) => Some(match decision.replace {
                Some(replacement) => ResponseOutcome::Replace(replacement, decision.headers),
                None => ResponseOutcome::Edit(decision.headers),
            }),
            Err(failure) => match after_failure(plugin.on_error(), failure) {
                AfterFailure::Skip => None,
                AfterFailure::Refuse { status, failure } => Some(ResponseOutcome::Refuse {
                    status,
                    failure,
                    plugin: plugin.name().to_string(),
                }),
            },
        }
    }
}
