//! The clock of plugin deadlines: a thread that advances the engine's
//! epoch every [`EPOCH_TICK`], only while plugin calls may run.
//!
//! Memoised decisions and rotations make calls rare on a busy proxy, and an
//! idle one makes none; a thread ticking regardless would preempt the
//! runtime's worker a thousand times a second (on one core under the
//! redirect load: about 1,850 context switches a second and 4 % of the
//! proxy's CPU per request). So after [`PARK_AFTER_TICKS`] ticks without a
//! call the thread parks, and the next call wakes it. A call that starts
//! while it parks is seen by one side or the other (both sides write, then
//! read the other's word, sequentially consistent), so no call runs on a
//! stopped clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// How often the epoch advances: the resolution of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Ticks without a call before the thread parks (100 ms).
const PARK_AFTER_TICKS: u32 = 100;

/// The low half of [`Ticker::calls`]: calls in flight.
const IN_FLIGHT: u64 = 0xffff_ffff;
/// One call started, in the high half of [`Ticker::calls`] (wrapping).
const STARTED: u64 = 1 << 32;

/// What the ticking thread and the callers share.
#[derive(Debug, Default)]
pub struct Ticker {
    /// Calls started (high 32 bits, wrapping) and in flight (low 32 bits),
    /// in one word so one read tells whether anything happened.
    calls: AtomicU64,
    /// The thread is parked, or about to park: a starting call wakes it.
    parked: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
    /// Times this thread parked, for the tests (the metric
    /// `plugin_epoch_parks` counts every engine's).
    parks: AtomicU64,
}

impl Ticker {
    /// A call is about to enter the guest: the clock must run.
    pub fn enter(&self) {
        self.calls.fetch_add(STARTED + 1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) {
            self.wake();
        }
    }

    /// A call entered with [`enter`](Ticker::enter) has returned.
    pub fn exit(&self) {
        self.calls.fetch_sub(1, Ordering::Release);
    }

    /// [`enter`](Ticker::enter) now, [`exit`](Ticker::exit) when the guard
    /// drops.
    pub fn busy(&self) -> Busy<'_> {
        self.enter();
        Busy(self)
    }

    /// Whether the thread is parked (no call for a while).
    pub fn is_parked(&self) -> bool {
        self.parked.load(Ordering::SeqCst)
    }

    /// How many times the thread has parked.
    pub fn parks(&self) -> u64 {
        self.parks.load(Ordering::Relaxed)
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// The thread's loop: tick, and park after a while without calls.
    fn run(&self, engine: &wasmtime::Engine) {
        // Set before the first park, so a call can always wake it.
        let _ = self.thread.set(std::thread::current());
        let mut seen = self.calls.load(Ordering::SeqCst);
        let mut idle = 0;
        while !self.stop.load(Ordering::Acquire) {
            // Its own thread, not a runtime worker.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
            let now = self.calls.load(Ordering::SeqCst);
            if now != seen || now & IN_FLIGHT != 0 {
                (seen, idle) = (now, 0);
                continue;
            }
            idle += 1;
            if idle < PARK_AFTER_TICKS {
                continue;
            }
            self.parked.store(true, Ordering::SeqCst);
            self.parks.fetch_add(1, Ordering::Relaxed);
            crate::metrics::metrics().plugin_epoch_parks.inc();
            // A call that started before `parked` was set changed `calls`;
            // one that starts after sees `parked` and unparks this thread
            // (an unpark before `park` makes it return at once).
            while self.calls.load(Ordering::SeqCst) == seen && !self.stop.load(Ordering::SeqCst) {
                std::thread::park();
            }
            self.parked.store(false, Ordering::SeqCst);
            (seen, idle) = (self.calls.load(Ordering::SeqCst), 0);
        }
    }
}

/// A call in flight, from [`Ticker::busy`].
pub struct Busy<'t>(&'t Ticker);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.exit();
    }
}

/// The ticking thread; stopped and joined when dropped.
pub struct TickerThread {
    ticker: Arc<Ticker>,
    thread: Option<JoinHandle<()>>,
}

impl TickerThread {
    /// Starts ticking `engine`'s epoch.
    pub fn start(engine: &wasmtime::Engine) -> std::io::Result<TickerThread> {
        let ticker = Arc::new(Ticker::default());
        let thread = {
            let (engine, ticker) = (engine.clone(), Arc::clone(&ticker));
            std::thread::Builder::new()
                .name("switchyard-epoch".into())
                .spawn(move || ticker.run(&engine))?
        };
        Ok(TickerThread {
            ticker,
            thread: Some(thread),
        })
    }

    /// What callers tell the thread through.
    pub fn ticker(&self) -> &Arc<Ticker> {
        &self.ticker
    }
}

impl Drop for TickerThread {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::SeqCst);
        self.ticker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
