//! The plugin host: WebAssembly components that make every decision.
//!
//! - `decision`: the host's own types for what plugins decide (actions,
//!   header edits, responses, picks, interests): all the rest of the crate
//!   sees of the contract.
//! - `bindings`: the WIT contract as generated Rust types, 0.2
//!   (`wit/plugin.wit`) and 0.1 (`wit/v0.1/`); `convert` (0.2) and
//!   `compat` (0.1, answered by the 0.2 imports): the one boundary between
//!   them and the host's types.
//! - `engine`: one wasmtime `Engine` per process, compiled components
//!   cached by content hash; `epoch`: the thread that advances the epoch
//!   that bounds every call, parked while no call runs.
//! - `disk_cache`: compiled components on disk, checked before use.
//! - `wasi`: the few WASI interfaces plugins get (clocks, random, an empty
//!   environment); every other import traps but `stdio`: stdout and stderr
//!   kept per call, so a guest's panic or exception message reaches the
//!   log.
//! - `version`: one loaded plugin version and its pool of live instances.
//! - `instance`: one instance (`Store`), its calls, deadline and memory cap.
//! - `state`: what a `Store` holds; `limits`: its memory cap and CPU
//!   budget; `imports`: the host side of the contract's imports (log,
//!   configuration, shared state, the `request` and `backend` resources).
//! - `shared_state`: the `shared` interface's counters and keys, one
//!   namespace per plugin, shared by all its instances and versions;
//!   `remote_state`: a namespace mirrored in Redis.
//! - `response_chain`: a listener's response hooks, in reverse order, on
//!   a `response_view` (the response head lent to the guest).
//! - `policy`: what a failed call means for the request (fail-open or
//!   fail-closed), applied by `chain` (a listener's request hooks, in
//!   order) and `balancer` (a backend's balancer, with its fail-open
//!   fallback).
//! - `set`: every plugin of a configuration, loaded and checked.
//! - `builtin`: the default plugins embedded in the binary.
//!
//! The host knows request heads and decisions, not connections, TLS or
//! pools, so it can be tested and benchmarked without a socket.

mod balancer;
mod bindings;
pub mod builtin;
mod candidates;
mod chain;
mod compat;
mod convert;
mod decision;
mod disk_cache;
mod engine;
mod epoch;
mod error;
mod imports;
mod instance;
mod limits;
pub mod memo;
mod policy;
mod remote_state;
mod request_view;
mod response_chain;
mod response_view;
mod set;
mod settings;
mod shared_state;
mod state;
mod stdio;
mod version;
mod wasi;

pub use balancer::{Balancer, Pick};
pub use candidates::{CandidateServer, CandidateView};
pub use chain::{ChainOutcome, RequestChain, Verdict};
pub use decision::{
    Action, Ask, AskFailure, AskReply, BodyInterest, CheckedOp, Choice, Decision, DirectResponse, EditList, Header,
    HeaderOp, Interest, OverLimit, ReadyResponse, ResponseDecision, ResponseInterest, Scheme,
};
pub use disk_cache::{CacheError, DiskCache};
pub use engine::PluginEngine;
pub use epoch::{Ticker, EPOCH_TICK};
pub use error::{CallFailure, PluginError};
pub use instance::PluginInstance;
pub use remote_state::StateUnavailable;
pub use request_view::{version_name, BufferedBody, ConnectionInfo, RequestView, UpgradeRequest};
pub use response_chain::{ResponseChain, ResponseOutcome};
pub use response_view::ResponseView;
pub use set::PluginSet;
pub use settings::PluginSettings;
pub use shared_state::{Namespace, SharedStates};
pub use version::PluginVersion;

pub use crate::content_hash::ContentHash;
