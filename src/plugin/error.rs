//! Plugin errors: [`PluginError`] for loading a plugin (reported at start,
//! by `switchyard check` and on reload), [`CallFailure`] for one call that
//! went wrong on the request path (the instance is discarded and the
//! plugin's failure policy applies).

use std::fmt;

/// A plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot start the Wasm engine: {0}")]
    Engine(#[source] wasmtime::Error),
    #[error("cannot read the component: {0}")]
    Read(#[source] std::io::Error),
    #[error("no builtin plugin \"{name}\"; builtins are: {known}")]
    UnknownBuiltin { name: String, known: String },
    #[error("not a valid Wasm component: {0:#}")]
    Compile(#[source] wasmtime::Error),
    #[error("the component does not fit the switchyard:plugin@0.1.0 contract: {0:#}")]
    Link(#[source] wasmtime::Error),
    #[error("the component exports none of the hooks (request-hook, balancer) of switchyard:plugin@0.1.0")]
    NoHooks,
    #[error("instantiating the component failed: {0}")]
    Instantiate(CallFailure),
    #[error("init rejected the configuration: {0}")]
    InitRejected(String),
    #[error("init failed: {0}")]
    InitFailed(CallFailure),
}

impl PluginError {
    pub(crate) fn engine(e: wasmtime::Error) -> PluginError {
        PluginError::Engine(e)
    }
}

/// Why one call into a plugin failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// The guest trapped (panic, `unreachable`, out-of-bounds access...).
    Trap(String),
    /// The call ran past the plugin's deadline.
    Timeout,
    /// The guest tried to grow its memory beyond the plugin's limit.
    OutOfMemory { limit: usize },
    /// The guest returned something the host cannot use (e.g. a balancer
    /// index past the candidate list).
    BadAnswer(String),
}

impl CallFailure {
    /// A stable short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallFailure::Trap(_) => "trap",
            CallFailure::Timeout => "timeout",
            CallFailure::OutOfMemory { .. } => "out_of_memory",
            CallFailure::BadAnswer(_) => "bad_answer",
        }
    }
}

impl fmt::Display for CallFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallFailure::Trap(detail) => write!(f, "trapped: {detail}"),
            CallFailure::Timeout => write!(f, "ran past its deadline"),
            CallFailure::OutOfMemory { limit } => {
                write!(f, "exceeded its memory limit of {limit} bytes")
            }
            CallFailure::BadAnswer(detail) => write!(f, "returned an unusable answer: {detail}"),
        }
    }
}

impl std::error::Error for CallFailure {}
