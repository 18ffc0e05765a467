//! The one place the WIT contract becomes Rust types: `v2` for
//! `switchyard:plugin@0.2.0` (`wit/plugin.wit`, what plugins are built
//! against today) and `v1` for `switchyard:plugin@0.1.1` (`wit/v0.1/`),
//! which keeps every component built against 0.1.0 or 0.1.1 loading.
//! Nothing outside the plugin host names these: `convert.rs` (0.2) and
//! `compat.rs` (0.1) turn them into the host's own types (`decision.rs`).
//!
//! Each host is generated for its `plugin` world, which exports every
//! hook; each export is then looked up separately (see `instance.rs`), so a
//! component built for any narrower world loads too.
#![allow(missing_docs)] // Generated code; the contract documents it.

/// `switchyard:plugin@0.2.0`.
pub mod v2 {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "plugin",
        imports: { default: trappable },
        with: {
            "switchyard:plugin/types.request": super::RequestHandle,
            "switchyard:plugin/types.backend": super::BackendHandle,
            "switchyard:plugin/types.response-head": super::ResponseHandle,
        },
    });
}

/// `switchyard:plugin@0.1.1` (also serves components built against 0.1.0).
pub mod v1 {
    wasmtime::component::bindgen!({
        path: "wit/v0.1",
        world: "plugin",
        imports: { default: trappable },
        with: {
            "switchyard:plugin/types.request": super::RequestHandle,
            "switchyard:plugin/types.backend": super::BackendHandle,
        },
    });
}

/// The type the WIT resource `request` maps to. The guest only ever holds a
/// borrowed handle during one call; the data lives in the `RequestView` the
/// host moves into the store for the call.
pub struct RequestHandle;

/// The type the WIT resource `backend` maps to (a borrowed handle; the data
/// is the `CandidateView` swapped into the store for one pick).
pub struct BackendHandle;

/// The type the WIT resource `response-head` maps to (a borrowed handle;
/// the data is the `ResponseView` swapped into the store for one call).
pub struct ResponseHandle;
