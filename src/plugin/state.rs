//! What a plugin's `Store` holds: who the plugin is, the request (and, for
//! a balancer, the candidates) lent to it for one call, its limits and its
//! sliver of WASI. The imports that read this are in `imports.rs`; the
//! limits in `limits.rs`.

use std::sync::Arc;

use super::candidates::CandidateView;
use super::limits::{CpuBudget, MemoryLimiter};
use super::request_view::RequestView;
use super::response_view::ResponseView;
use super::settings::PluginSettings;
use super::shared_state::Namespace;
use super::wasi::{PluginWasi, WasiHost};

/// Who a plugin is: shared by every instance of one version.
#[derive(Debug)]
pub struct PluginIdentity {
    /// The plugin's name in the configuration.
    pub name: String,
    /// Short content hash of the component, for log lines.
    pub version: String,
    /// Its `config` table.
    pub settings: PluginSettings,
    /// The plugin's namespace of shared counters and keys.
    pub shared: Arc<Namespace>,
}

/// The data of one instance's `Store`.
pub struct PluginState {
    /// The plugin version this instance belongs to.
    pub identity: Arc<PluginIdentity>,
    /// The request being decided, swapped in for the duration of one call
    /// (a placeholder otherwise).
    pub request: RequestView,
    /// The balancer's backend and candidates, swapped in for one `pick`
    /// likewise (names and addresses are read from here).
    pub candidates: CandidateView,
    /// The response a response hook is deciding on, swapped in likewise.
    pub response: ResponseView,
    /// How much of the buffered body the plugin under call may read
    /// (`None`: it declared no body interest, `request.body` is none).
    pub body_limit: Option<usize>,
    /// The cap on the instance's linear memory.
    pub memory: MemoryLimiter,
    /// The CPU budget of the call under way.
    pub cpu: CpuBudget,
    /// The few WASI interfaces plugins may use (see `wasi.rs`).
    pub wasi: PluginWasi,
}

impl PluginState {
    /// The state of a new instance.
    pub fn new(identity: Arc<PluginIdentity>, memory_limit: usize, cpu: CpuBudget) -> PluginState {
        PluginState {
            cpu,
            wasi: PluginWasi::new(),
            identity,
            request: RequestView::placeholder(),
            candidates: CandidateView::default(),
            response: ResponseView::default(),
            body_limit: None,
            memory: MemoryLimiter::new(memory_limit),
        }
    }
}

impl wasmtime_wasi::WasiView for PluginState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        self.wasi.view()
    }
}

impl WasiHost for PluginState {
    fn plugin_wasi(&mut self) -> &mut PluginWasi {
        &mut self.wasi
    }
}
