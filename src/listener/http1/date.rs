//! The `Date` of responses that have none, formatted once a second.
//!
//! The wall clock is read once a second, not for every response: each
//! response brings the monotonic instant the proxy read when it was ready,
//! and the text formatted last holds until the instant its second ends.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const LENGTH: usize = 29;

/// The second formatted last, and until when it holds.
struct Cached {
    /// The monotonic instant its second ends (none before the first).
    until: Option<Instant>,
    text: [u8; LENGTH],
}

impl Cached {
    /// The date at `now`; `wall` is read only when `now` is past the
    /// second formatted last.
    fn at(&mut self, now: Instant, wall: impl FnOnce() -> SystemTime) -> &[u8; LENGTH] {
        if self.until.is_none_or(|until| now >= until) {
            let wall = wall();
            let formatted = httpdate::fmt_http_date(wall);
            if formatted.len() == LENGTH {
                self.text.copy_from_slice(formatted.as_bytes());
                // The wall clock is read after `now`: its second may end a
                // little before this, and is then formatted again.
                let into_second = wall
                    .duration_since(UNIX_EPOCH)
                    .map_or(Duration::ZERO, |d| Duration::from_nanos(d.subsec_nanos().into()));
                self.until = now.checked_add(Duration::from_secs(1).saturating_sub(into_second));
            }
        }
        &self.text
    }
}

thread_local! {
    /// Each worker thread its own.
    static CACHED: RefCell<Cached> = const {
        RefCell::new(Cached {
            until: None,
            text: [b' '; LENGTH],
        })
    };
}

/// Appends the date at `now` (a monotonic instant read for the response)
/// to `out`.
pub fn extend(out: &mut Vec<u8>, now: Instant) {
    CACHED.with_borrow_mut(|cached| out.extend_from_slice(cached.at(now, SystemTime::now)));
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    #[test]
    fn the_date_is_an_imf_fixdate_of_now() {
        let mut out = Vec::new();
        super::extend(&mut out, Instant::now());
        let text = String::from_utf8(out).unwrap();
        let parsed = httpdate::parse_http_date(&text).unwrap();
        let drift = std::time::SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(drift < std::time::Duration::from_secs(5), "{text}");
    }

    /// The wall clock is read again exactly when the monotonic instant
    /// passes the end of the second formatted last, and the text is then
    /// that of the new reading.
    #[test]
    fn the_wall_clock_is_read_once_a_second() {
        let mut cached = super::Cached {
            until: None,
            text: [b' '; super::LENGTH],
        };
        let reads = Cell::new(0);
        // A wall clock 0.75 s into its second, then 1.25 s later.
        let first = UNIX_EPOCH + Duration::from_millis(784_111_777_750);
        let later = first + Duration::from_millis(1_250);
        let wall = |at: SystemTime| {
            let reads = &reads;
            move || {
                reads.set(reads.get() + 1);
                at
            }
        };
        let start = Instant::now();
        let text = *cached.at(start, wall(first));
        assert_eq!(&text, b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(reads.get(), 1);
        // Within the quarter second left, the text holds and the wall
        // clock is not read.
        for ms in [0, 100, 249] {
            assert_eq!(cached.at(start + Duration::from_millis(ms), wall(later)), &text);
        }
        assert_eq!(reads.get(), 1, "read again within the second");
        let next = *cached.at(start + Duration::from_millis(250), wall(later));
        assert_eq!(reads.get(), 2, "not read again when the second ended");
        assert_eq!(&next, b"Sun, 06 Nov 1994 08:49:39 GMT");
    }
}
