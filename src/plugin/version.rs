//! One loaded version of a plugin: its compiled component, its settings, its
//! failure policy and a pool of live instances.
//!
//! Instances are long-lived: a call takes one from the pool (lock-free),
//! runs, and puts it back, so each worker thread effectively keeps its own
//! and no `Store` is ever shared by two requests at once. When the pool is
//! empty a new instance is started (instantiate + `init`); when it already
//! holds `pool_size` idle instances, one coming back is dropped, so the
//! memory a plugin keeps is bounded by its setting. An instance whose
//! call failed is dropped, as is one that reached `max_calls_per_instance`
//! or grew past half its memory limit: a leaking guest cannot leak forever.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use wasmtime::component::{InstancePre, Linker};

use super::bindings::{v1, v2};
use super::candidates::CandidateView;
use super::decision::{
    AskFailure, AskReply, BodyInterest, Choice, Decision, Interest, ResponseDecision, ResponseInterest,
};
use super::engine::PluginEngine;
use super::epoch::Ticker;
use super::error::{CallFailure, PluginError};
use super::instance::{ExportIndices, PluginInstance};
use super::memo::Memo;
use super::policy::policy_name;
use super::request_view::RequestView;
use super::response_view::ResponseView;
use super::settings::PluginSettings;
use super::state::{PluginIdentity, PluginState};
use crate::config::{FailurePolicy, PluginConfig};
use crate::content_hash::ContentHash;
use crate::metrics::PluginMetrics;
use crate::report::Report;

/// One call in this many (per instance, starting with its first) is timed
/// for `plugin_call_duration_seconds`.
pub const TIMED_EVERY: u64 = 16;

/// A balancer's rotation over one backend, and the candidates (key,
/// weight, health) it was made for.
#[derive(Debug)]
struct Cycle {
    candidates: Vec<(u64, u32, bool)>,
    /// `None`: the plugin wants `pick` for every request.
    order: Option<Arc<[u32]>>,
}

fn fingerprint(candidates: &CandidateView) -> impl Iterator<Item = (u64, u32, bool)> + '_ {
    candidates.servers.iter().map(|s| (s.key, s.weight, s.healthy))
}

/// One loaded version of a plugin (see the module doc).
pub struct PluginVersion {
    /// The configuration it was loaded with.
    config: PluginConfig,
    identity: Arc<PluginIdentity>,
    hash: ContentHash,
    pre: InstancePre<PluginState>,
    exports: ExportIndices,
    on_error: FailurePolicy,
    deadline_ticks: u64,
    memory_limit: usize,
    max_calls: u64,
    /// Which requests the request hook wants, asked once at load.
    interest: Interest,
    /// How much body it reads first (a `body-hook`), asked once at load.
    body_interest: Option<BodyInterest>,
    /// Which responses the response hook wants, asked once at load.
    response_interest: Option<ResponseInterest>,
    /// Its reusable decisions, when it exports `memo` (asked once at load).
    memo: Option<Memo>,
    /// The rotation a balancer exporting `rotation` handed over, per
    /// backend, with the candidates it was made for.
    rotations: RwLock<HashMap<Arc<str>, Cycle>>,
    idle: ArrayQueue<PluginInstance>,
    metrics: PluginMetrics,
    /// The engine's epoch clock, told of every call.
    ticker: Arc<Ticker>,
}

impl std::fmt::Debug for PluginVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVersion")
            .field("name", &self.identity.name)
            .field("version", &self.identity.version)
            .finish_non_exhaustive()
    }
}

impl PluginVersion {
    /// Compiles (or reuses) the component, links it against the host, and
    /// proves it works by starting one instance, whose `init` must accept
    /// the configuration. That instance becomes the first of the pool.
    pub fn load(engine: &PluginEngine, config: &PluginConfig, bytes: &[u8]) -> Result<PluginVersion, PluginError> {
        let (hash, component) = engine.compile(bytes)?;
        let mut linker: Linker<PluginState> = Linker::new(engine.engine());
        // Both contracts' imports: a component built against 0.1 links to
        // the first, one built against 0.2 to the second.
        v2::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<PluginState>>(&mut linker, |state| state)
            .map_err(PluginError::Link)?;
        v1::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<PluginState>>(&mut linker, |state| state)
            .map_err(PluginError::Link)?;
        // Toolchains' runtimes import WASI: plugins get clocks, randomness,
        // an empty environment and stdout/stderr kept per call; every other
        // import (files, sockets, waiting) traps.
        super::wasi::add_to_linker(&mut linker).map_err(PluginError::Link)?;
        super::wasi::stub_other_imports(&mut linker, &component).map_err(PluginError::Link)?;
        let pre = linker.instantiate_pre(&component).map_err(PluginError::Link)?;
        let exports = ExportIndices::resolve(&pre);
        if exports.request_hook.is_none() && exports.balancer.is_none() && exports.response_hook.is_none() {
            return Err(PluginError::NoHooks);
        }
        let identity = Arc::new(PluginIdentity {
            name: config.name.clone(),
            version: hash.short(),
            settings: PluginSettings::new(&config.settings),
            shared: engine.shared_states().namespace(
                &config.name,
                config.state_max_entries,
                config.state_remote.as_ref(),
            ),
        });
        let mut version = PluginVersion {
            config: config.clone(),
            identity,
            hash,
            pre,
            exports,
            on_error: config.on_error,
            deadline_ticks: PluginEngine::deadline_ticks(config.timeout),
            memory_limit: config.memory_limit,
            max_calls: config.max_calls_per_instance,
            interest: Interest::default(),
            body_interest: None,
            response_interest: None,
            memo: None,
            rotations: RwLock::new(HashMap::new()),
            idle: ArrayQueue::new(config.pool_size.max(1)),
            metrics: PluginMetrics::new(&config.name, &hash.short()),
            ticker: Arc::clone(engine.ticker()),
        };
        let mut first = version.start_instance()?;
        let ticks = version.deadline_ticks;
        if version.has_request_hook() {
            version.interest = first.interest(ticks).map_err(PluginError::InitFailed)?;
            version.body_interest = first
                .body_interest(config.max_body_buffer, ticks)
                .map_err(PluginError::InitFailed)?;
            let memo = first.memo_key(ticks).map_err(PluginError::InitFailed)?;
            version.memo = match memo {
                Some(_) if version.body_interest.is_some() => {
                    tracing::warn!(plugin = %config.name, "the plugin reads the body: its memo is ignored");
                    None
                }
                key => key.map(Memo::new),
            };
        }
        version.response_interest = first.response_interest(ticks).map_err(PluginError::InitFailed)?;
        let _ = version.idle.push(first);
        Ok(version)
    }

    /// The plugin's name in the configuration.
    pub fn name(&self) -> &str {
        &self.identity.name
    }

    /// The component's SHA-256.
    pub fn hash(&self) -> ContentHash {
        self.hash
    }

    /// The settings it was loaded with.
    pub fn config(&self) -> &PluginConfig {
        &self.config
    }

    /// Whether loading `config` with a component of `hash` would give this
    /// very version (so a reload can keep it, with its warm instances).
    pub fn is(&self, config: &PluginConfig, hash: ContentHash) -> bool {
        self.hash == hash && self.config.same_runtime(config)
    }

    /// What a failed call does to the request.
    pub fn on_error(&self) -> FailurePolicy {
        self.on_error
    }

    /// Whether it exports `request-hook`.
    pub fn has_request_hook(&self) -> bool {
        self.exports.request_hook.is_some()
    }

    /// Whether it exports `reply-hook` (so its `ask` can be answered).
    pub fn has_reply_hook(&self) -> bool {
        self.exports.reply_hook.is_some()
    }

    /// Whether it exports `response-hook`.
    pub fn has_response_hook(&self) -> bool {
        self.exports.response_hook.is_some()
    }

    /// The contract it was built against: `0.1` or `0.2`.
    pub fn contract(&self) -> &'static str {
        self.exports.contract()
    }

    /// Whether it exports `balancer`.
    pub fn has_balancer(&self) -> bool {
        self.exports.balancer.is_some()
    }

    /// Idle instances in the pool (for tests and the admin view).
    pub fn idle_instances(&self) -> usize {
        self.idle.len()
    }

    /// The request hook's declared interest.
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// How much body its request hook reads first, if any.
    pub fn body_interest(&self) -> Option<BodyInterest> {
        self.body_interest
    }

    /// Which responses its response hook wants (none without one).
    pub fn response_interest(&self) -> Option<&ResponseInterest> {
        self.response_interest.as_ref()
    }

    /// Its limits on asks.
    pub fn ask_limits(&self) -> crate::config::AskLimits {
        self.config.asks
    }

    /// The request hook's decision for `view`: the memoised one when the
    /// plugin exports `memo` and a request alike in its declared parts was
    /// decided already (no call), else a call on a pooled instance.
    pub fn on_request(&self, view: &mut RequestView) -> Result<Decision, CallFailure> {
        let body = self.body_interest.map(|b| b.max_bytes);
        let Some(memo) = &self.memo else {
            return self.call(|instance, ticks| instance.on_request(view, body, ticks));
        };
        let key = memo.key_of(view);
        if let Some(decision) = memo.get(&key) {
            self.metrics.memo_hits.inc();
            return Ok(decision);
        }
        let decision = self.call(|instance, ticks| instance.on_request(view, body, ticks))?;
        memo.put(key, &decision);
        Ok(decision)
    }

    /// The rotation its balancer handed over for `backend`, if any (for
    /// tests and the admin view).
    pub fn rotation(&self, backend: &str) -> Option<Arc<[u32]>> {
        let cycles = self.rotations.read().unwrap_or_else(|p| p.into_inner());
        cycles.get(backend).and_then(|cycle| cycle.order.clone())
    }

    /// Its memo of decisions, when it exports `memo`.
    pub fn memo(&self) -> Option<&Memo> {
        self.memo.as_ref()
    }

    /// Forgets every memoised decision and rotation: a new generation was
    /// published.
    pub fn new_generation(&self) {
        if let Some(memo) = &self.memo {
            memo.clear();
        }
        self.rotations.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Calls the reply hook with the outcome of an ask.
    pub fn on_reply(
        &self,
        view: &mut RequestView,
        context: &str,
        outcome: Result<AskReply, AskFailure>,
    ) -> Result<Decision, CallFailure> {
        let body = self.body_interest.map(|b| b.max_bytes);
        self.call(|instance, ticks| instance.on_reply(view, body, context, outcome, ticks))
    }

    /// Calls the response hook on a pooled instance.
    pub fn on_response(
        &self,
        view: &mut RequestView,
        response: &mut ResponseView,
    ) -> Result<ResponseDecision, CallFailure> {
        self.call(|instance, ticks| instance.on_response(view, response, ticks))
    }

    /// The balancer's choice: from its rotation when it exports one and
    /// this is a first pick (no server left out), else a call of `pick` on
    /// a pooled instance.
    pub fn pick(&self, view: &mut RequestView, candidates: &mut CandidateView) -> Result<Option<Choice>, CallFailure> {
        if self.exports.rotation.is_some() && candidates.attempt == 0 {
            if let Some(choice) = self.follow_rotation(candidates)? {
                return Ok(choice);
            }
        }
        self.call(|instance, ticks| instance.pick(view, candidates, ticks))
    }

    /// The rotation's choice for `candidates.sequence`, asking the plugin
    /// for a rotation when it has none for these candidates; `None` when
    /// the plugin wants `pick` instead.
    fn follow_rotation(&self, candidates: &mut CandidateView) -> Result<Option<Option<Choice>>, CallFailure> {
        let known = {
            let cycles = self.rotations.read().unwrap_or_else(|p| p.into_inner());
            cycles
                .get(&candidates.backend)
                .filter(|cycle| cycle.candidates.iter().copied().eq(fingerprint(candidates)))
                .map(|cycle| cycle.order.clone())
        };
        let order = match known {
            Some(order) => {
                if order.is_some() {
                    self.metrics.memo_hits.inc();
                }
                order
            }
            None => {
                let order: Option<Arc<[u32]>> = self
                    .call(|instance, ticks| instance.rotate(candidates, ticks))?
                    .map(Arc::from);
                let cycle = Cycle {
                    candidates: fingerprint(candidates).collect(),
                    order: order.clone(),
                };
                let mut cycles = self.rotations.write().unwrap_or_else(|p| p.into_inner());
                cycles.insert(Arc::clone(&candidates.backend), cycle);
                order
            }
        };
        Ok(order.map(|order| {
            let len = order.len() as u64;
            (len > 0).then(|| Choice {
                server: order[(candidates.sequence % len) as usize],
                response_headers: Vec::new(),
            })
        }))
    }

    /// One call on a pooled instance, counted in the metrics. Every call is
    /// counted; one in [`TIMED_EVERY`] of each instance's calls is timed
    /// for the duration histogram (reading the clock twice per call was a
    /// tenth of a small plugin's cost).
    fn call<T>(&self, call: impl FnOnce(&mut PluginInstance, u64) -> Result<T, CallFailure>) -> Result<T, CallFailure> {
        let mut started = None;
        let result = self.checkout().and_then(|mut instance| {
            if instance.calls % TIMED_EVERY == 0 {
                started = Some(Instant::now());
            }
            let result = call(&mut instance, self.deadline_ticks);
            self.checkin(instance, &result);
            result
        });
        self.count(started, &result);
        result
    }

    /// Metrics of one call: count, duration (when timed), failure and the
    /// policy that will decide the request.
    fn count<T>(&self, started: Option<Instant>, result: &Result<T, CallFailure>) {
        self.metrics.calls.inc();
        if let Some(started) = started {
            self.metrics.duration.observe(started.elapsed().as_secs_f64());
        }
        if let Err(failure) = result {
            self.metrics.failed(failure.kind(), policy_name(self.on_error));
        }
    }

    /// A fresh instance that bypasses the pool and is dropped after use:
    /// the instantiate-per-request mode, for benchmarks and untrusted code.
    pub fn start_instance(&self) -> Result<PluginInstance, PluginError> {
        self.metrics.instances_started.inc();
        PluginInstance::start(
            &self.pre,
            &self.exports,
            Arc::clone(&self.identity),
            self.memory_limit,
            self.config.timeout,
            self.deadline_ticks,
            &self.ticker,
        )
    }

    /// Epoch ticks each call may run.
    pub fn deadline_ticks(&self) -> u64 {
        self.deadline_ticks
    }

    fn checkout(&self) -> Result<PluginInstance, CallFailure> {
        if let Some(instance) = self.idle.pop() {
            return Ok(instance);
        }
        self.start_instance().map_err(|e| {
            tracing::warn!(plugin = %self.identity.name, version = %self.identity.version, error = %Report(&e), "could not start a plugin instance");
            match e {
                PluginError::InitFailed(failure) | PluginError::Instantiate(failure) => failure,
                other => CallFailure::Start(Box::new(other)),
            }
        })
    }

    fn checkin<T>(&self, instance: PluginInstance, result: &Result<T, CallFailure>) {
        match result {
            Err(failure) => {
                tracing::warn!(
                    plugin = %self.identity.name,
                    version = %self.identity.version,
                    failure = failure.kind(),
                    "plugin call failed: {}; instance discarded",
                    Report(failure)
                );
            }
            Ok(_) if instance.calls >= self.max_calls || instance.memory_size() > self.memory_limit / 2 => {
                tracing::debug!(plugin = %self.identity.name, calls = instance.calls, memory = instance.memory_size(), "recycling plugin instance");
            }
            Ok(_) => {
                let _ = self.idle.push(instance);
            }
        }
    }
}
