//! Warnings that a flood would repeat thousands of times a second (a limit
//! reached, a client refused) are logged at most once a second each, with
//! how many were folded into the line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The throttle of one warning: at most a line a second.
pub struct ThrottledLog {
    /// The second of the last line written.
    last: AtomicU64,
    /// Occurrences since that line.
    folded: AtomicU64,
}

impl ThrottledLog {
    /// A throttle that lets the next occurrence through.
    pub const fn new() -> ThrottledLog {
        ThrottledLog {
            last: AtomicU64::new(0),
            folded: AtomicU64::new(0),
        }
    }

    /// Counts one occurrence; returns `Some(n)` when a line should be
    /// written now, `n` being the occurrences it stands for.
    pub fn tick(&self) -> Option<u64> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let folded = self.folded.fetch_add(1, Ordering::Relaxed) + 1;
        if self.last.swap(now, Ordering::Relaxed) == now {
            return None;
        }
        self.folded.fetch_sub(folded, Ordering::Relaxed);
        Some(folded)
    }
}

impl Default for ThrottledLog {
    fn default() -> Self {
        ThrottledLog::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_writes_one_line() {
        let log = ThrottledLog::new();
        let lines: Vec<u64> = (0..1000).filter_map(|_| log.tick()).collect();
        // One line for the first occurrence, perhaps one more if the second
        // turned during the loop.
        assert!(!lines.is_empty() && lines.len() <= 2, "{lines:?}");
    }
}
