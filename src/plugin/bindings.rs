//! The one place the WIT contract (`wit/plugin.wit`) becomes Rust types.
//!
//! The host is generated for the `plugin` world, which exports every hook;
//! each export is then looked up separately (see `instance.rs`), so a
//! component built for `request-plugin` or `balancer-plugin` loads too.

wasmtime::component::bindgen!({
    path: "wit",
    world: "plugin",
    imports: { default: trappable },
    with: {
        "switchyard:plugin/types.request": crate::plugin::request_view::RequestHandle,
        "switchyard:plugin/types.backend": crate::plugin::candidates::BackendHandle,
    },
});
