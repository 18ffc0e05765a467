//! The one place a plugin's failure policy (`on_error`) is applied to a
//! failed call: the request chain (`chain.rs`) and the balancer
//! (`balancer.rs`) both ask here what a failure means for the request.

use http::StatusCode;

use super::error::CallFailure;
use crate::config::FailurePolicy;

/// What a failed call leads to.
#[derive(Debug)]
pub enum AfterFailure {
    /// fail-open: carry on as if the plugin were not there (the failure
    /// has been logged and counted where the call failed).
    Skip,
    /// fail-closed: the request is answered with `status`.
    Refuse {
        /// The plugin's `error_status`.
        status: StatusCode,
        /// Why the call failed.
        failure: CallFailure,
    },
}

/// Applies `policy` to `failure`.
pub fn after_failure(policy: FailurePolicy, failure: CallFailure) -> AfterFailure {
    match policy {
        FailurePolicy::Open => AfterFailure::Skip,
        FailurePolicy::Closed { status } => AfterFailure::Refuse { status, failure },
    }
}

/// The policy's name in metrics and logs.
pub fn policy_name(policy: FailurePolicy) -> &'static str {
    match policy {
        FailurePolicy::Open => "fail-open",
        FailurePolicy::Closed { .. } => "fail-closed",
    }
}
