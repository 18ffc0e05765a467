//! Plugin errors: [`PluginError`] for loading a plugin (reported at start,
//! by `switchyard check` and on reload), [`CallFailure`] for one call that
//! went wrong on the request path (the instance is discarded and the
//! plugin's failure policy applies). Causes are kept as sources and left
//! out of the messages: [`Report`](crate::report::Report) prints the chain.

/// A plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// wasmtime refused its settings, or the epoch thread did not start.
    #[error("cannot start the Wasm engine")]
    Engine(#[source] wasmtime::Error),
    /// The component file could not be read.
    #[error("cannot read the component")]
    Read(#[source] std::io::Error),
    /// `builtin:NAME` names no builtin.
    #[error("no builtin plugin \"{name}\"; builtins are: {known}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// Every builtin, comma-separated.
        known: String,
    },
    /// Not a component wasmtime can compile.
    #[error("not a valid Wasm component")]
    Compile(#[source] wasmtime::Error),
    /// Its imports or exports do not fit the contract.
    #[error("the component does not fit the switchyard:plugin contract (this host accepts 0.1.0 to 0.1.1 and 0.2.0)")]
    Link(#[source] wasmtime::Error),
    /// It exports no hook the host could call.
    #[error("the component exports none of the hooks (request-hook, response-hook, balancer) of switchyard:plugin@0.1 or @0.2")]
    NoHooks,
    /// Instantiating it failed (a trap in a start function, memory).
    #[error("instantiating the component failed")]
    Instantiate(#[source] CallFailure),
    /// Its `init` returned an error: the message is the plugin's.
    #[error("init rejected the configuration: {0}")]
    InitRejected(String),
    /// Its `init` trapped, ran too long or ran out of memory.
    #[error("init failed")]
    InitFailed(#[source] CallFailure),
}

/// Why one call into a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum CallFailure {
    /// The guest trapped (panic, `unreachable`, out-of-bounds access...).
    /// `output` is what it wrote to stdout or stderr during the call (the
    /// tail of it): a panic message, a traceback, an exception.
    #[error("trapped{}", said(output))]
    Trap {
        /// wasmtime's account: the trap and the guest's backtrace.
        #[source]
        source: wasmtime::Error,
        /// The guest's own words, if it wrote any.
        output: Option<String>,
    },
    /// The call ran past the plugin's deadline.
    #[error("ran past its deadline")]
    Timeout,
    /// The guest tried to grow its memory beyond the plugin's limit.
    #[error("exceeded its memory limit of {limit} bytes")]
    OutOfMemory {
        /// The plugin's `memory_limit`.
        limit: usize,
    },
    /// The guest returned something the host cannot use (e.g. a balancer
    /// index past the candidate list).
    #[error("returned an unusable answer: {0}")]
    BadAnswer(String),
    /// No instance was idle and a new one could not be started.
    #[error("no instance could be started")]
    Start(#[source] Box<PluginError>),
}

impl CallFailure {
    /// A stable short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallFailure::Trap { .. } => "trap",
            CallFailure::Timeout => "timeout",
            CallFailure::OutOfMemory { .. } => "out_of_memory",
            CallFailure::BadAnswer(_) => "bad_answer",
            CallFailure::Start(_) => "start",
        }
    }
}

/// `; the plugin wrote "..."`, escaped to stay on one log line.
fn said(output: &Option<String>) -> String {
    match output {
        Some(text) => format!("; the plugin wrote {text:?}"),
        None => String::new(),
    }
}
