//! One live instance of a plugin version: its own `Store` (never shared
//! between threads at the same time), the exports it has, and calls bounded
//! by an epoch deadline and a memory limit. A failed call poisons the
//! instance; its owner drops it.
//!
//! A component exports its hooks in contract 0.2 or 0.1 (looked up in that
//! order, hook by hook); the 0.2-only hooks (reply, body, response) exist
//! only in 0.2.

use std::sync::Arc;

use wasmtime::component::{InstancePre, Resource};
use wasmtime::{Store, Trap};

use super::bindings::v1::exports::switchyard::plugin as v1;
use super::bindings::v2::exports::switchyard::plugin as v2;
use super::bindings::{BackendHandle, RequestHandle, ResponseHandle};
use super::candidates::CandidateView;
use super::convert::{body_interest, candidate_records, memo_key, reply_record};
use super::decision::{
    AskFailure, AskReply, BodyInterest, Choice, Decision, Interest, ResponseDecision, ResponseInterest,
};
use super::epoch::Ticker;
use super::error::{CallFailure, PluginError};
use super::limits::{CpuBudget, DeadlineExceeded};
use super::request_view::RequestView;
use super::response_view::ResponseView;
use super::state::{PluginIdentity, PluginState};

/// A hook as contract 0.1 or 0.2 exports it.
#[derive(Clone)]
pub enum Versioned<A, B> {
    /// `switchyard:plugin@0.1.z`.
    V1(A),
    /// `switchyard:plugin@0.2.z`.
    V2(B),
}

impl<A, B> Versioned<A, B> {
    /// `@0.1` or `@0.2`, for the admin view.
    pub fn contract(&self) -> &'static str {
        match self {
            Versioned::V1(_) => "0.1",
            Versioned::V2(_) => "0.2",
        }
    }
}

/// The longest rotation a balancer may hand over.
pub const MAX_ROTATION: usize = 4096;

/// Which hooks a component exports, resolved once per version.
#[derive(Clone)]
pub struct ExportIndices {
    /// `init`.
    pub lifecycle: Option<Versioned<v1::lifecycle::GuestIndices, v2::lifecycle::GuestIndices>>,
    /// `declare-interest` and `on-request`.
    pub request_hook: Option<Versioned<v1::request_hook::GuestIndices, v2::request_hook::GuestIndices>>,
    /// `pick`.
    pub balancer: Option<Versioned<v1::balancer::GuestIndices, v2::balancer::GuestIndices>>,
    /// `on-reply` (0.2).
    pub reply_hook: Option<v2::reply_hook::GuestIndices>,
    /// `declare-body-interest` (0.2).
    pub body_hook: Option<v2::body_hook::GuestIndices>,
    /// `declare-response-interest` and `on-response` (0.2).
    pub response_hook: Option<v2::response_hook::GuestIndices>,
    /// `declare-memo` (0.2).
    pub memo: Option<v2::memo::GuestIndices>,
    /// `rotate` (0.2).
    pub rotation: Option<v2::rotation::GuestIndices>,
}

macro_rules! either_version {
    ($pre:expr, $hook:ident) => {
        match v2::$hook::GuestIndices::new($pre) {
            Ok(indices) => Some(Versioned::V2(indices)),
            Err(_) => v1::$hook::GuestIndices::new($pre).ok().map(Versioned::V1),
        }
    };
}

impl ExportIndices {
    /// Looks each hook up in the component.
    pub fn resolve(pre: &InstancePre<PluginState>) -> ExportIndices {
        ExportIndices {
            lifecycle: either_version!(pre, lifecycle),
            request_hook: either_version!(pre, request_hook),
            balancer: either_version!(pre, balancer),
            reply_hook: v2::reply_hook::GuestIndices::new(pre).ok(),
            body_hook: v2::body_hook::GuestIndices::new(pre).ok(),
            response_hook: v2::response_hook::GuestIndices::new(pre).ok(),
            memo: v2::memo::GuestIndices::new(pre).ok(),
            rotation: v2::rotation::GuestIndices::new(pre).ok(),
        }
    }

    /// The contract its hooks were built against (`0.1` or `0.2`).
    pub fn contract(&self) -> &'static str {
        let versions = [
            self.lifecycle.as_ref().map(Versioned::contract),
            self.request_hook.as_ref().map(Versioned::contract),
            self.balancer.as_ref().map(Versioned::contract),
        ];
        match versions.into_iter().flatten().any(|v| v == "0.1") {
            true => "0.1",
            false => "0.2",
        }
    }
}

/// One live instance of a plugin version.
pub struct PluginInstance {
    store: Store<PluginState>,
    request_hook: Option<Versioned<v1::request_hook::Guest, v2::request_hook::Guest>>,
    balancer: Option<Versioned<v1::balancer::Guest, v2::balancer::Guest>>,
    reply_hook: Option<v2::reply_hook::Guest>,
    body_hook: Option<v2::body_hook::Guest>,
    response_hook: Option<v2::response_hook::Guest>,
    memo: Option<v2::memo::Guest>,
    rotation: Option<v2::rotation::Guest>,
    /// Calls made so far, for recycling after `max_calls_per_instance`.
    pub calls: u64,
    /// The epoch's clock, told when a call enters and leaves the guest.
    ticker: Arc<Ticker>,
    /// Between `arm` and `finish`: the clock was told of a call.
    armed: bool,
}

fn missing(hook: &str) -> CallFailure {
    CallFailure::BadAnswer(format!("the plugin exports no {hook}"))
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
        ticker: &Arc<Ticker>,
    ) -> Result<PluginInstance, PluginError> {
        // Instantiating runs guest code (start functions, then `init`).
        let _busy = ticker.busy();
        let cpu = CpuBudget::new(timeout, deadline_ticks);
        let mut store = Store::new(pre.engine(), PluginState::new(identity, memory_limit, cpu));
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_callback(|mut store| store.data_mut().cpu.on_deadline());
        store.set_epoch_deadline(deadline_ticks);
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| PluginError::Instantiate(classify(&mut store, e)))?;
        let load_failed = |source| PluginError::Instantiate(CallFailure::Trap { source, output: None });
        macro_rules! load {
            ($indices:expr) => {
                match $indices {
                    Some(indices) => Some(indices.load(&mut store, &instance).map_err(load_failed)?),
                    None => None,
                }
            };
        }
        macro_rules! load_versioned {
            ($indices:expr) => {
                match $indices {
                    Some(Versioned::V1(indices)) => Some(Versioned::V1(
                        indices.load(&mut store, &instance).map_err(load_failed)?,
                    )),
                    Some(Versioned::V2(indices)) => Some(Versioned::V2(
                        indices.load(&mut store, &instance).map_err(load_failed)?,
                    )),
                    None => None,
                }
            };
        }
        let request_hook = load_versioned!(&exports.request_hook);
        let balancer = load_versioned!(&exports.balancer);
        let reply_hook = load!(&exports.reply_hook);
        let body_hook = load!(&exports.body_hook);
        let response_hook = load!(&exports.response_hook);
        let memo = load!(&exports.memo);
        let rotation = load!(&exports.rotation);
        let lifecycle = load_versioned!(&exports.lifecycle);
        if let Some(lifecycle) = lifecycle {
            store.data_mut().cpu.reset();
            store.set_epoch_deadline(deadline_ticks);
            let answer = match lifecycle {
                Versioned::V1(hook) => hook.call_init(&mut store),
                Versioned::V2(hook) => hook.call_init(&mut store),
            };
            match answer {
                Ok(Ok(())) => {}
                Ok(Err(message)) => return Err(PluginError::InitRejected(message)),
                Err(e) => return Err(PluginError::InitFailed(classify(&mut store, e))),
            }
        }
        Ok(PluginInstance {
            store,
            request_hook,
            balancer,
            reply_hook,
            body_hook,
            response_hook,
            memo,
            rotation,
            calls: 0,
            ticker: Arc::clone(ticker),
            armed: false,
        })
    }

    /// Runs the request hook. `view` is lent to the guest for the call;
    /// the plugin may read `body_limit` bytes of its buffered body.
    pub fn on_request(
        &mut self,
        view: &mut RequestView,
        body_limit: Option<usize>,
        deadline_ticks: u64,
    ) -> Result<Decision, CallFailure> {
        let Some(hook) = self.request_hook.clone() else {
            return Err(missing("request-hook"));
        };
        self.lend(view, body_limit, deadline_ticks);
        let handle = Resource::<RequestHandle>::new_borrow(0);
        let result = match hook {
            Versioned::V1(hook) => hook.call_on_request(&mut self.store, handle).map(Decision::from),
            Versioned::V2(hook) => hook.call_on_request(&mut self.store, handle).map(Decision::from),
        };
        self.take_back(view);
        self.finish(result)
    }

    /// Runs the reply hook with the outcome of the plugin's ask.
    pub fn on_reply(
        &mut self,
        view: &mut RequestView,
        body_limit: Option<usize>,
        context: &str,
        outcome: Result<AskReply, AskFailure>,
        deadline_ticks: u64,
    ) -> Result<Decision, CallFailure> {
        let Some(hook) = self.reply_hook.clone() else {
            return Err(missing("reply-hook"));
        };
        let reply = reply_record(outcome);
        self.lend(view, body_limit, deadline_ticks);
        let handle = Resource::<RequestHandle>::new_borrow(0);
        let result = hook.call_on_reply(&mut self.store, handle, context, reply.as_ref().map_err(|e| *e));
        self.take_back(view);
        self.finish(result.map(Decision::from))
    }

    /// Runs the response hook on `response` (lent, like `view`).
    pub fn on_response(
        &mut self,
        view: &mut RequestView,
        response: &mut ResponseView,
        deadline_ticks: u64,
    ) -> Result<ResponseDecision, CallFailure> {
        let Some(hook) = self.response_hook.clone() else {
            return Err(missing("response-hook"));
        };
        self.lend(view, None, deadline_ticks);
        std::mem::swap(response, &mut self.store.data_mut().response);
        let result = hook.call_on_response(
            &mut self.store,
            Resource::<RequestHandle>::new_borrow(0),
            Resource::<ResponseHandle>::new_borrow(0),
        );
        std::mem::swap(response, &mut self.store.data_mut().response);
        self.take_back(view);
        self.finish(result.map(ResponseDecision::from))
    }

    /// Asks the request hook which requests it wants (once per version).
    pub fn interest(&mut self, deadline_ticks: u64) -> Result<Interest, CallFailure> {
        let Some(hook) = self.request_hook.clone() else {
            return Err(missing("request-hook"));
        };
        self.arm(deadline_ticks);
        let result = match hook {
            Versioned::V1(hook) => hook.call_declare_interest(&mut self.store).map(Interest::from),
            Versioned::V2(hook) => hook.call_declare_interest(&mut self.store).map(Interest::from),
        };
        self.finish(result)
    }

    /// Asks the body hook how much body it reads, capped at `cap` (once per
    /// version); none without a body hook.
    pub fn body_interest(&mut self, cap: usize, deadline_ticks: u64) -> Result<Option<BodyInterest>, CallFailure> {
        let Some(hook) = self.body_hook.clone() else {
            return Ok(None);
        };
        self.arm(deadline_ticks);
        let result = hook
            .call_declare_body_interest(&mut self.store)
            .map(|interest| Some(body_interest(interest, cap)));
        self.finish(result)
    }

    /// Asks which parts of a request the request hook's decision depends
    /// on (once per version); none without `memo`, or when it says none.
    pub fn memo_key(&mut self, deadline_ticks: u64) -> Result<Option<super::memo::MemoKey>, CallFailure> {
        let Some(hook) = self.memo.clone() else {
            return Ok(None);
        };
        self.arm(deadline_ticks);
        let result = hook.call_declare_memo(&mut self.store);
        match self.finish(result)? {
            None => Ok(None),
            Some(key) => memo_key(key).map(Some).map_err(CallFailure::BadAnswer),
        }
    }

    /// Asks the response hook which responses it wants (once per version);
    /// none without a response hook.
    pub fn response_interest(&mut self, deadline_ticks: u64) -> Result<Option<ResponseInterest>, CallFailure> {
        let Some(hook) = self.response_hook.clone() else {
            return Ok(None);
        };
        self.arm(deadline_ticks);
        let result = hook
            .call_declare_response_interest(&mut self.store)
            .map(|interest| Some(ResponseInterest::from(interest)));
        self.finish(result)
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
            return Err(missing("balancer"));
        };
        let (sequence, attempt) = (candidates.sequence, candidates.attempt);
        let count = candidates.servers.len();
        let request = Resource::<RequestHandle>::new_borrow(0);
        let backend = Resource::<BackendHandle>::new_borrow(0);
        let result = match hook {
            Versioned::V1(hook) => {
                let records = super::compat::candidate_records(candidates);
                self.lend(view, None, deadline_ticks);
                std::mem::swap(candidates, &mut self.store.data_mut().candidates);
                let result = hook.call_pick(&mut self.store, request, backend, sequence, attempt, &records);
                result.map(|choice| choice.map(Choice::from))
            }
            Versioned::V2(hook) => {
                let records = candidate_records(candidates);
                self.lend(view, None, deadline_ticks);
                std::mem::swap(candidates, &mut self.store.data_mut().candidates);
                let result = hook.call_pick(&mut self.store, request, backend, sequence, attempt, &records);
                result.map(|choice| choice.map(Choice::from))
            }
        };
        std::mem::swap(candidates, &mut self.store.data_mut().candidates);
        self.take_back(view);
        match self.finish(result)? {
            Some(choice) if choice.server as usize >= count => Err(CallFailure::BadAnswer(format!(
                "server index {} with {count} candidates",
                choice.server
            ))),
            answer => Ok(answer),
        }
    }

    /// Asks the balancer for its rotation over `candidates` (lent like
    /// for `pick`): indices checked, at most [`MAX_ROTATION`] of them.
    /// `None`: it wants `pick` for every request.
    pub fn rotate(
        &mut self,
        candidates: &mut CandidateView,
        deadline_ticks: u64,
    ) -> Result<Option<Vec<u32>>, CallFailure> {
        let Some(hook) = self.rotation.clone() else {
            return Err(missing("rotation"));
        };
        let count = candidates.servers.len();
        let records = candidate_records(candidates);
        self.calls += 1;
        self.arm(deadline_ticks);
        std::mem::swap(candidates, &mut self.store.data_mut().candidates);
        let result = hook.call_rotate(&mut self.store, Resource::<BackendHandle>::new_borrow(0), &records);
        std::mem::swap(candidates, &mut self.store.data_mut().candidates);
        match self.finish(result)? {
            Some(order) if order.len() > MAX_ROTATION => Err(CallFailure::BadAnswer(format!(
                "a rotation of {} entries (at most {MAX_ROTATION})",
                order.len()
            ))),
            Some(order) if order.iter().any(|&i| i as usize >= count) => Err(CallFailure::BadAnswer(format!(
                "a rotation with an index past its {count} candidates"
            ))),
            answer => Ok(answer),
        }
    }

    /// Linear memory in use, for recycling instances that grew.
    pub fn memory_size(&self) -> usize {
        self.store.data().memory.current
    }

    /// Before a call: the CPU budget reset, the deadline set, the clock
    /// told. Each `arm` is followed by the call and [`finish`](Self::finish).
    fn arm(&mut self, deadline_ticks: u64) {
        if !self.armed {
            self.ticker.enter();
            self.armed = true;
        }
        let data = self.store.data_mut();
        data.cpu.reset();
        data.wasi.output.clear();
        self.store.set_epoch_deadline(deadline_ticks);
    }

    /// A call's result: a failure named (with what the guest wrote), or
    /// the answer (what the guest wrote logged at debug level).
    fn finish<T>(&mut self, result: wasmtime::Result<T>) -> Result<T, CallFailure> {
        self.disarm();
        match result {
            Err(e) => Err(classify(&mut self.store, e)),
            Ok(answer) => {
                let data = self.store.data_mut();
                if let Some(output) = data.wasi.output.take() {
                    tracing::debug!(plugin = %data.identity.name, version = %data.identity.version, %output, "the plugin wrote to stdout or stderr");
                }
                Ok(answer)
            }
        }
    }

    fn disarm(&mut self) {
        if std::mem::take(&mut self.armed) {
            self.ticker.exit();
        }
    }

    fn lend(&mut self, view: &mut RequestView, body_limit: Option<usize>, deadline_ticks: u64) {
        self.calls += 1;
        let data = self.store.data_mut();
        std::mem::swap(view, &mut data.request);
        data.body_limit = body_limit;
        self.arm(deadline_ticks);
    }

    fn take_back(&mut self, view: &mut RequestView) {
        std::mem::swap(view, &mut self.store.data_mut().request);
    }
}

impl Drop for PluginInstance {
    /// A call that never finished (a panic in between) does not keep the
    /// clock running for ever.
    fn drop(&mut self) {
        self.disarm();
    }
}

/// Names what went wrong in a failed call.
fn classify(store: &mut Store<PluginState>, error: wasmtime::Error) -> CallFailure {
    let output = store.data_mut().wasi.output.take();
    let memory = &store.data().memory;
    if memory.exceeded {
        return CallFailure::OutOfMemory { limit: memory.limit };
    }
    if error.is::<DeadlineExceeded>() {
        return CallFailure::Timeout;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallFailure::Timeout,
        _ => CallFailure::Trap { source: error, output },
    }
}
