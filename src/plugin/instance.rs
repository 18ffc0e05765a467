//! One live instance of a plugin version: its own `Store` (never shared
//! between threads at the same time), the exports it has, and calls bounded
//! by an epoch deadline and a memory limit. A failed call poisons the
//! instance; its owner drops it.

use std::sync::Arc;

use wasmtime::component::{InstancePre, Resource};
use wasmtime::{Store, Trap};

use super::bindings::exports::switchyard::plugin::{balancer, lifecycle, request_hook};
use super::bindings::{BackendHandle, RequestHandle};
use super::candidates::CandidateView;
use super::convert::candidate_records;
use super::decision::{Choice, Decision, Interest};
use super::error::{CallFailure, PluginError};
use super::limits::{CpuBudget, DeadlineExceeded};
use super::request_view::RequestView;
use super::state::{PluginIdentity, PluginState};

/// Which hooks a component exports, resolved once per version.
#[derive(Clone)]
pub struct ExportIndices {
    /// `init`.
    pub lifecycle: Option<lifecycle::GuestIndices>,
    /// `declare-interest` and `on-request`.
    pub request_hook: Option<request_hook::GuestIndices>,
    /// `pick`.
    pub balancer: Option<balancer::GuestIndices>,
}

impl ExportIndices {
    /// Looks each hook up in the component.
    pub fn resolve(pre: &InstancePre<PluginState>) -> ExportIndices {
        ExportIndices {
            lifecycle: lifecycle::GuestIndices::new(pre).ok(),
            request_hook: request_hook::GuestIndices::new(pre).ok(),
            balancer: balancer::GuestIndices::new(pre).ok(),
        }
    }
}

/// One live instance of a plugin version.
pub struct PluginInstance {
    store: Store<PluginState>,
    request_hook: Option<request_hook::Guest>,
    balancer: Option<balancer::Guest>,
    /// Calls made so far, for recycling after `max_calls_per_instance`.
    pub calls: u64,
}

impl PluginInstance {
    /// Instantiates and runs `init`; the instance is ready for hooks.
    pub fn start(
        pre: &InstancePre<PluginState>,
        exports: &ExportIndices,
        identity: Arc<PluginIdentity>,
        memory_limit: usize,
        timeout: std::time::Duration,
        deadline_ticks: u64,
    ) -> Result<PluginInstance, PluginError> {
        let cpu = CpuBudget::new(timeout, deadline_ticks);
        let mut store = Store::new(pre.engine(), PluginState::new(identity, memory_limit, cpu));
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(|mut store| store.data_mut().cpu.on_deadline());
        store.set_epoch_deadline(deadline_ticks);
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| PluginError::Instantiate(classify(&store, e)))?;
        let load_failed = |e| PluginError::Instantiate(CallFailure::Trap(e));
        let request_hook = match &exports.request_hook {
            Some(indices) => Some(indices.load(&mut store, &instance).map_err(load_failed)?),
            None => None,
        };
        let balancer = match &exports.balancer {
            Some(indices) => Some(indices.load(&mut store, &instance).map_err(load_failed)?),
            None => None,
        };
        if let Some(indices) = &exports.lifecycle {
            let lifecycle = indices.load(&mut store, &instance).map_err(load_failed)?;
            store.data_mut().cpu.reset();
            store.set_epoch_deadline(deadline_ticks);
            match lifecycle.call_init(&mut store) {
                Ok(Ok(())) => {}
                Ok(Err(message)) => return Err(PluginError::InitRejected(message)),
                Err(e) => return Err(PluginError::InitFailed(classify(&store, e))),
            }
        }
        Ok(PluginInstance {
            store,
            request_hook,
            balancer,
            calls: 0,
        })
    }

    /// Runs the request hook. `view` is lent to the guest for the call.
    pub fn on_request(&mut self, view: &mut RequestView, deadline_ticks: u64) -> Result<Decision, CallFailure> {
        let Some(hook) = self.request_hook.clone() else {
            return Err(CallFailure::BadAnswer("the plugin exports no request-hook".into()));
        };
        self.lend(view, deadline_ticks);
        let result = hook.call_on_request(&mut self.store, Resource::<RequestHandle>::new_borrow(0));
        self.take_back(view);
        result.map(Decision::from).map_err(|e| classify(&self.store, e))
    }

    /// Asks the request hook which requests it wants (once per version).
    pub fn interest(&mut self, deadline_ticks: u64) -> Result<Interest, CallFailure> {
        let Some(hook) = self.request_hook.clone() else {
            return Err(CallFailure::BadAnswer("the plugin exports no request-hook".into()));
        };
        self.store.data_mut().cpu.reset();
        self.store.set_epoch_deadline(deadline_ticks);
        hook.call_declare_interest(&mut self.store)
            .map(Interest::from)
            .map_err(|e| classify(&self.store, e))
    }

    /// Runs the balancer and checks the index it returns. `candidates` is
    /// lent to the guest for the call, like `view`.
    pub fn pick(
        &mut self,
        view: &mut RequestView,
        candidates: &mut CandidateView,
        deadline_ticks: u64,
    ) -> Result<Option<Choice>, CallFailure> {
        let Some(hook) = self.balancer.clone() else {
            return Err(CallFailure::BadAnswer("the plugin exports no balancer".into()));
        };
        let records = candidate_records(candidates);
        let (sequence, attempt) = (candidates.sequence, candidates.attempt);
        self.lend(view, deadline_ticks);
        std::mem::swap(candidates, &mut self.store.data_mut().candidates);
        let result = hook.call_pick(
            &mut self.store,
            Resource::<RequestHandle>::new_borrow(0),
            Resource::<BackendHandle>::new_borrow(0),
            sequence,
            attempt,
            &records,
        );
        std::mem::swap(candidates, &mut self.store.data_mut().candidates);
        self.take_back(view);
        let count = candidates.servers.len();
        match result.map_err(|e| classify(&self.store, e))? {
            Some(choice) if choice.server as usize >= count => Err(CallFailure::BadAnswer(format!(
                "server index {} with {count} candidates",
                choice.server
            ))),
            answer => Ok(answer.map(Choice::from)),
        }
    }

    /// Linear memory in use, for recycling instances that grew.
    pub fn memory_size(&self) -> usize {
        self.store.data().memory.current
    }

    fn lend(&mut self, view: &mut RequestView, deadline_ticks: u64) {
        self.calls += 1;
        let data = self.store.data_mut();
        std::mem::swap(view, &mut data.request);
        data.cpu.reset();
        self.store.set_epoch_deadline(deadline_ticks);
    }

    fn take_back(&mut self, view: &mut RequestView) {
        std::mem::swap(view, &mut self.store.data_mut().request);
    }
}

/// Names what went wrong in a failed call.
fn classify(store: &Store<PluginState>, error: wasmtime::Error) -> CallFailure {
    let memory = &store.data().memory;
    if memory.exceeded {
        return CallFailure::OutOfMemory { limit: memory.limit };
    }
    if error.is::<DeadlineExceeded>() {
        return CallFailure::Timeout;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallFailure::Timeout,
        _ => CallFailure::Trap(error),
    }
}
