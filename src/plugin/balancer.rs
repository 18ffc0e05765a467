//! A backend's balancer: its plugin, with the failure policy applied.
//! Fail-closed refuses the request with the plugin's status; fail-open
//! falls back to the builtin round-robin (the default balancer: healthy
//! servers in turn, by weight), so a broken balancer degrades to the
//! rotation a backend without one gets, and round-robin is written once,
//! in its guest.

use std::sync::Arc;

use http::StatusCode;

use super::candidates::CandidateView;
use super::decision::HeaderOp;
use super::error::CallFailure;
use super::policy::{after_failure, AfterFailure};
use super::request_view::RequestView;
use super::version::PluginVersion;

/// A balancer plugin and what takes over when it fails open.
#[derive(Debug, Clone)]
pub struct Balancer {
    plugin: Arc<PluginVersion>,
    /// The builtin round-robin, loaded when `plugin` is fail-open.
    fallback: Option<Arc<PluginVersion>>,
}

/// What became of one pick.
#[derive(Debug)]
pub enum Pick {
    /// This candidate (an index into the candidates offered).
    Server {
        /// Index of the candidate.
        index: usize,
        /// Response edits the balancer asked for.
        response_edits: Vec<HeaderOp>,
    },
    /// No candidate can take the request.
    NoServer,
    /// The balancer failed and is fail-closed.
    Refused {
        /// The plugin's `error_status`.
        status: StatusCode,
        /// Why its call failed.
        failure: CallFailure,
    },
}

impl Balancer {
    /// `plugin`, falling back to `fallback` when a call fails and the
    /// plugin is fail-open.
    pub fn new(plugin: Arc<PluginVersion>, fallback: Option<Arc<PluginVersion>>) -> Balancer {
        let fallback = fallback.filter(|f| !Arc::ptr_eq(f, &plugin));
        Balancer { plugin, fallback }
    }

    /// The balancer plugin.
    pub fn plugin(&self) -> &Arc<PluginVersion> {
        &self.plugin
    }

    /// Asks the plugin for one of `candidates`.
    pub fn pick(&self, view: &mut RequestView, candidates: &mut CandidateView) -> Pick {
        match self.plugin.pick(view, candidates) {
            Ok(choice) => Pick::from_choice(choice),
            Err(failure) => match after_failure(self.plugin.on_error(), failure) {
                AfterFailure::Refuse { status, failure } => Pick::Refused { status, failure },
                AfterFailure::Skip => match &self.fallback {
                    // The fallback's own failure leaves no server.
                    Some(fallback) => fallback
                        .pick(view, candidates)
                        .map_or(Pick::NoServer, Pick::from_choice),
                    None => Pick::NoServer,
                },
            },
        }
    }
}

impl Pick {
    fn from_choice(choice: Option<super::decision::Choice>) -> Pick {
        match choice {
            Some(choice) => Pick::Server {
                index: choice.server as usize,
                response_edits: choice.response_headers,
            },
            None => Pick::NoServer,
        }
    }
}
