//! A backend's retry budget: retries allowed over a 10-second window are
//! `min_per_second` × 10 plus `ratio` × the requests of the window (as
//! Linkerd and Envoy budget them), so when every server fails retries cannot
//! multiply the load on them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::RetryBudgetConfig;

const WINDOW_SECS: u64 = 10;

/// A backend's retry budget (see the module doc).
#[derive(Debug)]
pub struct RetryBudget {
    ratio: f64,
    floor: u64,
    started: Instant,
    /// Which window the counts belong to (seconds since `started` / 10).
    window: AtomicU64,
    requests: AtomicU64,
    retries: AtomicU64,
}

impl RetryBudget {
    /// A budget for `config`, its window starting now.
    pub fn new(config: &RetryBudgetConfig) -> RetryBudget {
        RetryBudget {
            ratio: config.ratio,
            floor: u64::from(config.min_per_second) * WINDOW_SECS,
            started: Instant::now(),
            window: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    /// Counts a first attempt, made at `now`.
    pub fn record_request(&self, now: Instant) {
        self.roll(now);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn try_retry(&self) -> bool {
        self.roll(Instant::now());
        let allowed = self.floor + (self.requests.load(Ordering::Relaxed) as f64 * self.ratio) as u64;
        let spent = self.retries.fetch_add(1, Ordering::Relaxed);
        if spent < allowed {
            true
        } else {
            self.retries.fetch_sub(1, Ordering::Relaxed);
            false
        }
    }

    /// Starts a new window when the one `now` falls in is not the current.
    fn roll(&self, now: Instant) {
        let now = now.saturating_duration_since(self.started).as_secs() / WINDOW_SECS;
        let current = self.window.load(Ordering::Relaxed);
        if now != current
            && self
                .window
                .compare_exchange(current, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.requests.store(0, Ordering::Relaxed);
            self.retries.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_capped_by_the_floor_plus_a_share_of_requests() {
        let budget = RetryBudget::new(&RetryBudgetConfig {
            ratio: 0.5,
            min_per_second: 1,
        });
        for _ in 0..20 {
            budget.record_request(Instant::now());
        }
        // floor 10 + 0.5 × 20 = 20 retries, then no more.
        let granted = (0..100).filter(|_| budget.try_retry()).count();
        assert_eq!(granted, 20);
        budget.record_request(Instant::now());
        budget.record_request(Instant::now());
        assert!(budget.try_retry(), "two more requests earn one more retry");
        assert!(!budget.try_retry());
    }

    #[test]
    fn a_request_in_a_later_window_starts_it_afresh() {
        let budget = RetryBudget::new(&RetryBudgetConfig {
            ratio: 0.0,
            min_per_second: 1,
        });
        let floor = WINDOW_SECS as usize;
        assert_eq!((0..100).filter(|_| budget.try_retry()).count(), floor);
        // The window is the one the request's own time falls in: a request
        // of the same window leaves the spent budget spent, one of the
        // next window (however late the clock is read) renews it.
        budget.record_request(budget.started);
        assert!(!budget.try_retry());
        budget.record_request(budget.started + std::time::Duration::from_secs(WINDOW_SECS));
        assert_eq!(budget.requests.load(Ordering::Relaxed), 1);
        assert_eq!(budget.retries.load(Ordering::Relaxed), 0);
    }
}
