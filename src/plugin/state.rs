//! What a plugin's `Store` holds, and the host side of the WIT imports: the
//! `host` interface (log, config) and the `request` resource.

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime::{ResourceLimiter, Result};

use super::bindings::switchyard::plugin::host::{self, Level};
use super::bindings::switchyard::plugin::shared;
use super::bindings::switchyard::plugin::types::{self, HostBackend, HostRequest, Scheme};
use super::candidates::{BackendHandle, CandidateServer, CandidateView};
use super::request_view::{RequestHandle, RequestView};
use super::settings::PluginSettings;
use super::shared_state::Namespace;
use super::wasi::PluginWasi;
use std::time::Duration;

/// Who a plugin is: shared by every instance of one version.
#[derive(Debug)]
pub struct PluginIdentity {
    pub name: String,
    /// Short content hash of the component, for log lines.
    pub version: String,
    pub settings: PluginSettings,
    /// The plugin's namespace of shared counters and keys.
    pub shared: Arc<Namespace>,
}

/// The data of one instance's `Store`.
pub struct PluginState {
    pub identity: Arc<PluginIdentity>,
    /// The request being decided, swapped in for the duration of one call
    /// (a placeholder otherwise).
    pub request: RequestView,
    /// The balancer's backend and candidates, swapped in for one `pick`
    /// likewise (names and addresses are read from here).
    pub candidates: CandidateView,
    pub memory: MemoryLimiter,
    pub cpu: CpuBudget,
    /// The few WASI interfaces plugins may use (see `wasi.rs`).
    pub wasi: PluginWasi,
}

impl PluginState {
    pub fn new(identity: Arc<PluginIdentity>, memory_limit: usize, cpu: CpuBudget) -> PluginState {
        PluginState {
            cpu,
            wasi: PluginWasi::new(),
            identity,
            request: RequestView::placeholder(),
            candidates: CandidateView::default(),
            memory: MemoryLimiter::new(memory_limit),
        }
    }

    fn request(&self) -> Result<&RequestView> {
        Ok(&self.request)
    }
}

/// Caps an instance's linear memory. Unlike `StoreLimits`, it remembers that
/// the cap was hit, so a failed call can be reported as out-of-memory rather
/// than as a generic trap, and it tracks the size so an instance that grew
/// large can be recycled.
pub struct MemoryLimiter {
    pub limit: usize,
    pub current: usize,
    pub exceeded: bool,
}

impl MemoryLimiter {
    fn new(limit: usize) -> MemoryLimiter {
        MemoryLimiter {
            limit,
            current: 0,
            exceeded: false,
        }
    }
}

/// Bounds the CPU time of one call, not its wall time.
///
/// The epoch deadline fires after `timeout` of *wall* time; on a busy
/// machine a call can be descheduled that long without doing anything
/// wrong. So the first time the deadline fires in a call, the thread's CPU
/// clock is read and the deadline extended; each later firing traps only if
/// the call burned a whole `timeout` of CPU since that first firing. A
/// runaway guest is thus stopped after at most twice its timeout of CPU,
/// a merely descheduled one is left alone, and a call stalled for
/// `MAX_EXTENSIONS` timeouts of wall time is stopped anyway.
#[derive(Debug, Clone)]
pub struct CpuBudget {
    timeout: std::time::Duration,
    deadline_ticks: u64,
    cpu_at_first_deadline: Option<std::time::Duration>,
    extensions: u32,
}

/// Wall-time bound of a call, in timeouts.
const MAX_EXTENSIONS: u32 = 100;

impl CpuBudget {
    pub fn new(timeout: std::time::Duration, deadline_ticks: u64) -> CpuBudget {
        CpuBudget {
            timeout,
            deadline_ticks,
            cpu_at_first_deadline: None,
            extensions: 0,
        }
    }

    /// Called before each call.
    pub fn reset(&mut self) {
        self.cpu_at_first_deadline = None;
        self.extensions = 0;
    }

    /// The epoch deadline fired: extend it, or stop the call.
    pub fn on_deadline(&mut self) -> Result<wasmtime::UpdateDeadline> {
        let now = thread_cpu_time();
        let first = *self.cpu_at_first_deadline.get_or_insert(now);
        if now.saturating_sub(first) >= self.timeout || self.extensions >= MAX_EXTENSIONS {
            return Err(wasmtime::Error::new(DeadlineExceeded));
        }
        self.extensions += 1;
        Ok(wasmtime::UpdateDeadline::Continue(self.deadline_ticks))
    }
}

/// Raised (as a trap) when a call uses up its CPU budget.
#[derive(Debug, thiserror::Error)]
#[error("the call ran past its CPU time budget")]
pub struct DeadlineExceeded;

/// CPU time consumed by the calling thread.
fn thread_cpu_time() -> std::time::Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // is supported on every Linux this runs on. On failure `now` stays zero,
    // which only makes the budget more lenient.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now);
    }
    std::time::Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// Raised (as a trap) when a guest grows its memory past the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (asked for {desired})")]
pub struct MemoryExceeded {
    pub limit: usize,
    pub desired: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryExceeded {
                limit: self.limit,
                desired,
            }));
        }
        self.current = desired;
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) -> Result<()> {
        let plugin = self.identity.name.as_str();
        let version = self.identity.version.as_str();
        match level {
            Level::Trace => {
                tracing::trace!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
        }
        Ok(())
    }

    fn config_get(&mut self, key: String) -> Result<Option<String>> {
        Ok(self.identity.settings.get(&key).map(str::to_string))
    }

    fn config_entries(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self.identity.settings.entries().to_vec())
    }

    fn config_json(&mut self) -> Result<String> {
        Ok(self.identity.settings.json().to_string())
    }
}

impl types::Host for PluginState {}

impl wasmtime_wasi::WasiView for PluginState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        self.wasi.view()
    }
}

impl shared::Host for PluginState {
    // While a Redis-backed namespace cannot reach Redis these fail: the
    // call traps and the plugin's `on_error` policy decides the request.
    fn counter_add(&mut self, name: String, delta: i64, ttl_ms: u64) -> Result<i64> {
        Ok(self
            .identity
            .shared
            .counter_add(&name, delta, Duration::from_millis(ttl_ms))?)
    }

    fn counter_get(&mut self, name: String) -> Result<i64> {
        Ok(self.identity.shared.counter_get(&name)?)
    }

    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        Ok(self.identity.shared.get(&key)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> Result<()> {
        Ok(self.identity.shared.set(&key, value, Duration::from_millis(ttl_ms))?)
    }

    fn delete(&mut self, key: String) -> Result<()> {
        Ok(self.identity.shared.delete(&key)?)
    }
}

impl HostRequest for PluginState {
    fn method(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.head.method.as_str().to_string())
    }

    fn scheme(&mut self, _: Resource<RequestHandle>) -> Result<Scheme> {
        Ok(self.request()?.conn.scheme)
    }

    fn authority(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.authority().map(str::to_string))
    }

    fn path(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.head.uri.path().to_string())
    }

    fn query(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.head.uri.query().map(str::to_string))
    }

    fn header(&mut self, _: Resource<RequestHandle>, name: String) -> Result<Option<Vec<u8>>> {
        let headers = &self.request()?.head.headers;
        Ok(headers.get(name.as_str()).map(|v| v.as_bytes().to_vec()))
    }

    fn header_all(&mut self, _: Resource<RequestHandle>, name: String) -> Result<Vec<Vec<u8>>> {
        let headers = &self.request()?.head.headers;
        Ok(headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect())
    }

    fn header_names(&mut self, _: Resource<RequestHandle>) -> Result<Vec<String>> {
        let headers = &self.request()?.head.headers;
        Ok(headers.keys().map(|k| k.as_str().to_string()).collect())
    }

    fn client_addr(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.conn.client.to_string())
    }

    fn listener(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.conn.listener.to_string())
    }

    fn local_port(&mut self, _: Resource<RequestHandle>) -> Result<u16> {
        Ok(self.request()?.conn.local.port())
    }

    fn version(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.version_name().to_string())
    }

    fn drop(&mut self, _: Resource<RequestHandle>) -> Result<()> {
        // Handles are borrows of the host's request: nothing to free.
        Ok(())
    }
}

impl PluginState {
    fn candidate(&self, index: u32) -> Result<&CandidateServer> {
        let servers = &self.candidates.servers;
        servers
            .get(index as usize)
            .ok_or_else(|| wasmtime::format_err!("candidate index {index} out of range (there are {})", servers.len()))
    }
}

impl HostBackend for PluginState {
    fn name(&mut self, _: Resource<BackendHandle>) -> Result<String> {
        Ok(self.candidates.backend.to_string())
    }

    fn server_name(&mut self, _: Resource<BackendHandle>, index: u32) -> Result<String> {
        Ok(self.candidate(index)?.name.to_string())
    }

    fn server_address(&mut self, _: Resource<BackendHandle>, index: u32) -> Result<String> {
        Ok(self.candidate(index)?.address.to_string())
    }

    fn drop(&mut self, _: Resource<BackendHandle>) -> Result<()> {
        Ok(())
    }
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}
