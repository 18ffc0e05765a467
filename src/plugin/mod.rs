//! The plugin host: WebAssembly components that make every decision.
//!
//! - `bindings`: the WIT contract (`wit/plugin.wit`) as Rust types.
//! - `engine`: one wasmtime `Engine` per process, the epoch ticker that
//!   bounds every call, compiled components cached by content hash.
//! - `disk_cache`: compiled components on disk, checked before use.
//! - `wasi`: the few WASI interfaces plugins get (clocks, random, an empty
//!   environment); every other import traps.
//! - `version`: one loaded plugin version and its pool of live instances.
//! - `instance`: one instance (`Store`), its calls, deadline and memory cap.
//! - `shared_state`: the `shared` interface's counters and keys, one
//!   namespace per plugin, shared by all its instances and versions.
//! - `remote_state`: a namespace mirrored in Redis, synchronised in the
//!   background, for several proxies that count together.
//! - `state`: the host side of the imports: logging, configuration, and the
//!   `request` and `candidates` resources backed by [`RequestView`] and
//!   [`CandidateView`].
//! - `chain`: a listener's request hooks run in order into a [`ChainOutcome`].
//! - `set`: every plugin of a configuration, loaded and checked.
//! - `builtin`: the default plugins embedded in the binary.
//!
//! The host knows request heads and decisions, not connections, TLS or
//! pools, so it can be tested and benchmarked without a socket.

pub mod bindings;
pub mod builtin;
mod candidates;
mod chain;
mod disk_cache;
mod engine;
mod error;
mod instance;
mod remote_state;
mod request_view;
mod set;
mod settings;
mod shared_state;
mod state;
mod version;
mod wasi;

pub use bindings::exports::switchyard::plugin::balancer::Choice;
pub use bindings::exports::switchyard::plugin::request_hook::{Action, Decision, Response};
pub use bindings::switchyard::plugin::types::{Header, HeaderOp, Scheme};
pub use candidates::{CandidateServer, CandidateView};
pub use chain::{ChainOutcome, RequestChain, Verdict};
pub use disk_cache::{CacheError, CacheSetting, DiskCache};
pub use engine::{ContentHash, PluginEngine, EPOCH_TICK};
pub use error::{CallFailure, PluginError};
pub use instance::PluginInstance;
pub use remote_state::{RemoteConfig, StateUnavailable};
pub use request_view::{version_name, ConnectionInfo, RequestView};
pub use set::PluginSet;
pub use settings::PluginSettings;
pub use shared_state::{Namespace, SharedStates};
pub use version::{Interest, PluginVersion};
