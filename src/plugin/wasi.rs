//! The little of WASI a plugin may use, and nothing more.
//!
//! Toolchains whose runtime reads its environment or asks for randomness
//! when it starts (componentize-py's CPython, componentize-js's engine) need
//! some WASI 0.2 interfaces. Plugins get only these, from wasmtime-wasi:
//! wall and monotonic clocks, random numbers, an empty environment (no
//! variables, no arguments), and `exit`; stdout and stderr are streams
//! into a buffer the host reads after each call (see `stdio.rs`: that is
//! how a guest's panic or exception message reaches the log), and the
//! filesystem has no preopened directory. Everything else (opening files,
//! sockets, reading stdin, `poll`) is linked as a trap: a plugin cannot
//! open a file or a socket, and cannot block its worker thread waiting on
//! one. Plugins log through `host.log`; what they print is kept for the
//! log at debug level.
//!
//! Imports match by semver: a component built against WASI 0.2.9 (or
//! Switchyard's contract 0.1.x) links to the 0.2.12 (0.1.0) definitions.
//! wasmtime's own `define_unknown_imports_as_traps` would shadow those with
//! traps under the exact imported version, so the stubbing is done here.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable, ResourceType};

use super::stdio::{self, GuestOutput};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings::{cli, clocks, random};
use wasmtime_wasi::random::{WasiRandom, WasiRandomCtx};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// A store that holds a [`PluginWasi`]: what the linked interfaces need.
pub trait WasiHost: WasiView + 'static {
    /// The store's WASI context and resource table.
    fn plugin_wasi(&mut self) -> &mut PluginWasi;
}

/// A plugin's WASI context: nothing inherited from the proxy.
pub struct PluginWasi {
    ctx: WasiCtx,
    /// Resources handed to the guest (pollables, stdio streams).
    pub table: ResourceTable,
    /// What the guest wrote to stdout and stderr during the call under way.
    pub output: GuestOutput,
}

impl PluginWasi {
    /// An empty context: no variables, no arguments, no files.
    pub fn new() -> PluginWasi {
        PluginWasi {
            ctx: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            output: GuestOutput::default(),
        }
    }

    fn random(&mut self) -> &mut WasiRandomCtx {
        self.ctx.random()
    }

    /// The context as wasmtime-wasi reads it.
    pub fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl Default for PluginWasi {
    fn default() -> Self {
        PluginWasi::new()
    }
}

/// Links the allowed WASI interfaces.
pub fn add_to_linker<T: WasiHost>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(linker, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(linker, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(linker, |t| t.plugin_wasi().random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(linker, |t| t.plugin_wasi().random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(linker, |t| t.plugin_wasi().random())?;
    cli::environment::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    cli::exit::add_to_linker::<T, WasiCli>(linker, T::cli)?;
    Ok(())
}

/// Interfaces linked for real, by name without version, and the version
/// prefix an import must have to reach them.
const LINKED: &[(&str, &str)] = &[
    ("wasi:clocks/wall-clock", "0.2."),
    ("wasi:clocks/monotonic-clock", "0.2."),
    ("wasi:random/random", "0.2."),
    ("wasi:random/insecure", "0.2."),
    ("wasi:random/insecure-seed", "0.2."),
    ("wasi:cli/environment", "0.2."),
    ("wasi:cli/exit", "0.2."),
    ("switchyard:plugin/types", "0.1."),
    ("switchyard:plugin/host", "0.1."),
    ("switchyard:plugin/shared", "0.1."),
    ("switchyard:plugin/types", "0.2."),
    ("switchyard:plugin/host", "0.2."),
    ("switchyard:plugin/shared", "0.2."),
];

fn is_linked(import: &str) -> bool {
    import
        .split_once('@')
        .is_some_and(|(name, version)| LINKED.iter().any(|(n, v)| *n == name && version.starts_with(v)))
}

/// Defines every other import of `component`: the stdio and preopens
/// functions `stdio.rs` provides, and the rest as functions that trap when
/// called (resources as opaque host types), so a component whose runtime
/// merely *imports* files or sockets still loads.
pub fn stub_other_imports<T: WasiHost>(linker: &mut Linker<T>, component: &Component) -> wasmtime::Result<()> {
    let engine = component.engine().clone();
    for (name, item) in component.component_type().imports(&engine) {
        if is_linked(name) {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentInstance(instance) => {
                let mut target = linker.instance(name)?;
                for (export, item) in instance.exports(&engine) {
                    match item.ty {
                        ComponentItem::ComponentFunc(_) => match stdio::provided::<T>(name, export) {
                            Some(provided) => {
                                target.func_new(export, move |store, _, params, results| {
                                    provided(store, params, results)
                                })?;
                            }
                            None => {
                                let qualified = format!("{name}#{export}");
                                target.func_new(export, move |_, _, _, _| {
                                    Err(wasmtime::format_err!("`{qualified}` is not available to plugins"))
                                })?;
                            }
                        },
                        ComponentItem::Resource(_) => match stdio::resource_type(name, export) {
                            // Clocks hand out pollables: they must be the
                            // type wasmtime-wasi's clocks create; streams
                            // are the table's stdio entries.
                            Some(ty) => {
                                let resource = export.to_string();
                                target.resource(export, ty, move |store, rep| {
                                    stdio::drop_resource(store, &resource, rep)
                                })?;
                            }
                            None => target.resource(export, ResourceType::host::<()>(), |_, _| Ok(()))?,
                        },
                        _ => {}
                    }
                }
            }
            ComponentItem::ComponentFunc(_) => {
                let qualified = name.to_string();
                linker.root().func_new(name, move |_, _, _, _| {
                    Err(wasmtime::format_err!("`{qualified}` is not available to plugins"))
                })?;
            }
            ComponentItem::Resource(_) => {
                linker
                    .root()
                    .resource(name, ResourceType::host::<()>(), |_, _| Ok(()))?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_linked;

    #[test]
    fn imports_match_by_compatible_version() {
        assert!(is_linked("wasi:cli/environment@0.2.9"));
        assert!(is_linked("wasi:cli/environment@0.2.0"));
        assert!(is_linked("switchyard:plugin/host@0.1.0"));
        assert!(is_linked("switchyard:plugin/host@0.2.0"));
        assert!(!is_linked("switchyard:plugin/host@0.3.0"));
        assert!(!is_linked("wasi:cli/stdout@0.2.9"));
        assert!(!is_linked("wasi:cli/environment@0.3.0"));
        assert!(!is_linked("wasi:cli/environment"));
    }
}
