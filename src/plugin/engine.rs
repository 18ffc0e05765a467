//! The Wasm engine shared by every plugin: one `Engine` with epoch
//! interruption, the thread that advances the epoch (`epoch.rs`), and
//! caches of compiled components keyed by content hash: in memory (reloading an unchanged or
//! recent version costs nothing) and on disk (a restart does not compile
//! again; see `disk_cache.rs`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::disk_cache::DiskCache;
use super::epoch::{Ticker, TickerThread, EPOCH_TICK};
use super::error::PluginError;
use super::shared_state::SharedStates;
use crate::config::CacheSetting;
use crate::content_hash::ContentHash;

/// Compiled components kept for reuse (a rollback to a recent version
/// compiles nothing); the oldest is forgotten first, so memory stays flat
/// however many versions are swapped in.
const COMPILED_CACHE_LIMIT: usize = 16;

/// Owns the Wasm engine. Create one per process and share it.
pub struct PluginEngine {
    engine: Engine,
    /// Every plugin's shared state, by plugin name; outlives versions.
    shared: SharedStates,
    compiled: Mutex<CompiledCache>,
    disk: Option<DiskCache>,
    ticker: TickerThread,
}

impl PluginEngine {
    /// An engine with the default on-disk cache (see [`CacheSetting`]).
    pub fn new() -> Result<Arc<PluginEngine>, PluginError> {
        PluginEngine::with_cache(&CacheSetting::Default)
    }

    /// An engine keeping compiled components where `cache` says. A cache
    /// directory that cannot be used is logged and done without.
    pub fn with_cache(cache: &CacheSetting) -> Result<Arc<PluginEngine>, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.parallel_compilation(true);
        let engine = Engine::new(&config).map_err(PluginError::Engine)?;
        let disk = super::disk_cache::directory(cache).and_then(|dir| match DiskCache::open(&dir, &engine) {
            Ok(disk) => Some(disk),
            Err(e) => {
                tracing::warn!(error = %crate::report::Report(&e), "compiled plugins will not be cached on disk");
                None
            }
        });
        let ticker = TickerThread::start(&engine).map_err(|e| PluginError::Engine(wasmtime::Error::new(e)))?;
        Ok(Arc::new(PluginEngine {
            engine,
            shared: SharedStates::default(),
            compiled: Mutex::new(CompiledCache::default()),
            disk,
            ticker,
        }))
    }

    /// The wasmtime engine every plugin is compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The epoch's clock: every call into a guest enters and exits it.
    pub fn ticker(&self) -> &Arc<Ticker> {
        self.ticker.ticker()
    }

    /// Every plugin's shared-state namespace.
    pub fn shared_states(&self) -> &SharedStates {
        &self.shared
    }

    /// The on-disk cache in use, if any.
    pub fn disk_cache(&self) -> Option<&DiskCache> {
        self.disk.as_ref()
    }

    /// Compiles a component, or returns the one compiled before from the
    /// same bytes (in memory, else on disk). Slow (tens of milliseconds for
    /// Rust or C, seconds for Python or JavaScript): never call it on the
    /// request path.
    pub fn compile(&self, bytes: &[u8]) -> Result<(ContentHash, Component), PluginError> {
        let hash = ContentHash::of(bytes);
        if let Some(found) = self.cached(hash) {
            return Ok((hash, found));
        }
        let started = std::time::Instant::now();
        let component = match self.disk.as_ref().and_then(|d| d.load(&self.engine, hash)) {
            Some(component) => {
                tracing::debug!(version = %hash.short(), elapsed = ?started.elapsed(), "compiled plugin loaded from the disk cache");
                component
            }
            None => {
                // Seconds for an interpreter-carrying component (Python,
                // JavaScript): say so before, not only after.
                tracing::info!(version = %hash.short(), bytes = bytes.len(), "compiling plugin");
                let component = Component::new(&self.engine, bytes).map_err(PluginError::Compile)?;
                tracing::info!(version = %hash.short(), bytes = bytes.len(), elapsed = ?started.elapsed(), "plugin compiled");
                if let Some(disk) = &self.disk {
                    disk.store(hash, &component);
                }
                component
            }
        };
        if let Ok(mut cache) = self.compiled.lock() {
            cache.insert(hash, component.clone());
        }
        Ok((hash, component))
    }

    fn cached(&self, hash: ContentHash) -> Option<Component> {
        self.compiled.lock().ok()?.by_hash.get(&hash).cloned()
    }

    /// Epoch ticks to allow for a call with this deadline (rounded up, plus
    /// one for the tick already under way).
    pub fn deadline_ticks(timeout: Duration) -> u64 {
        let tick = EPOCH_TICK.as_nanos().max(1);
        (timeout.as_nanos().div_ceil(tick) as u64).saturating_add(1)
    }
}

#[derive(Default)]
struct CompiledCache {
    by_hash: HashMap<ContentHash, Component>,
    /// Insertion order, oldest first.
    order: VecDeque<ContentHash>,
}

impl CompiledCache {
    fn insert(&mut self, hash: ContentHash, component: Component) {
        if self.by_hash.insert(hash, component).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > COMPILED_CACHE_LIMIT {
            if let Some(oldest) = self.order.pop_front() {
                self.by_hash.remove(&oldest);
            }
        }
    }
}
