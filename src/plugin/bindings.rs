//! The one place the WIT contract (`wit/plugin.wit`) becomes Rust types.
//! Nothing outside the plugin host names these: `convert.rs` turns them
//! into the host's own types (`decision.rs`).
//!
//! The host is generated for the `plugin` world, which exports every hook;
//! each export is then looked up separately (see `instance.rs`), so a
//! component built for `request-plugin` or `balancer-plugin` loads too.
#![allow(missing_docs)] // Generated code; the contract documents it.

wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
    imports: { default: trappable },
    with: {
        "switchyard:plugin/types.request": RequestHandle,
        "switchyard:plugin/types.backend": BackendHandle,
    },
});

/// The type the WIT resource `request` maps to. The guest only ever holds a
/// borrowed handle during one call; the data lives in the `RequestView` the
/// host moves into the store for the call.
pub struct RequestHandle;

/// The type the WIT resource `backend` maps to (a borrowed handle; the data
/// is the `CandidateView` swapped into the store for one pick).
pub struct BackendHandle;
