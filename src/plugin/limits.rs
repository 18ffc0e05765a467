//! The bounds of every plugin call: a cap on an instance's linear memory
//! ([`MemoryLimiter`]) and a budget of CPU time per call ([`CpuBudget`]),
//! both raised as traps the host can tell apart from the guest's own.

use wasmtime::{ResourceLimiter, Result};

/// Caps an instance's linear memory. Unlike `StoreLimits`, it remembers that
/// the cap was hit, so a failed call can be reported as out-of-memory rather
/// than as a generic trap, and it tracks the size so an instance that grew
/// large can be recycled.
pub struct MemoryLimiter {
    /// Bytes of linear memory an instance may have.
    pub limit: usize,
    /// Bytes it has now.
    pub current: usize,
    /// Whether a growth past `limit` was refused.
    pub exceeded: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `limit` bytes of linear memory.
    pub fn new(limit: usize) -> MemoryLimiter {
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
    #[allow(unsafe_code)] // One of the four documented unsafe sites.
    unsafe {
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now);
    }
    std::time::Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// Raised (as a trap) when a guest grows its memory past the limit.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (asked for {desired})")]
pub struct MemoryExceeded {
    /// The limit.
    pub limit: usize,
    /// What the guest asked for.
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
