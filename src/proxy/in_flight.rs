//! `max_in_flight`: requests being handled at once, counted with one
//! atomic. A request that finds the limit reached is refused at once (503),
//! never queued, so a counter does what a semaphore would without taking
//! its waiters' lock on every release.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The requests being handled, under a fixed limit.
#[derive(Debug)]
pub struct InFlight {
    limit: usize,
    taken: AtomicUsize,
}

/// A request's place under the limit, given back when dropped.
#[derive(Debug)]
pub struct Place<'a>(&'a AtomicUsize);

impl InFlight {
    /// At most `limit` requests at once.
    pub fn new(limit: usize) -> InFlight {
        InFlight {
            limit,
            taken: AtomicUsize::new(0),
        }
    }

    /// A place, or `None` when `limit` requests hold one.
    pub fn try_enter(&self) -> Option<Place<'_>> {
        let before = self.taken.fetch_add(1, Ordering::Acquire);
        if before >= self.limit {
            self.taken.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Place(&self.taken))
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_and_places_come_back() {
        let in_flight = InFlight::new(2);
        let a = in_flight.try_enter();
        let b = in_flight.try_enter();
        assert!(a.is_some() && b.is_some());
        assert!(in_flight.try_enter().is_none(), "a third is refused");
        drop(a);
        let c = in_flight.try_enter();
        assert!(c.is_some(), "a place given back is taken again");
        assert!(in_flight.try_enter().is_none());
        drop((b, c));
        assert_eq!(
            in_flight.taken.load(Ordering::Relaxed),
            0,
            "refusals leave nothing taken"
        );
        assert!(InFlight::new(0).try_enter().is_none());
    }
}
