//! Request ids: 16 hex digits, unique within the process and unlikely to
//! repeat across restarts. Sent to the server as `x-request-id`, shown in
//! error pages and logs, so a client's complaint can be matched to a log
//! line.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// A request's id, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u64);

impl RequestId {
    /// A new id, unique within the process.
    pub fn next() -> RequestId {
        static BASE: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = *BASE.get_or_init(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            nanos ^ (u64::from(std::process::id()) << 40)
        });
        // An odd multiplier spreads consecutive ids over the whole range.
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        RequestId(base.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }

    /// The id as an `x-request-id` value.
    pub fn header_value(self) -> http::HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 16];
        for (i, digit) in digits.iter_mut().enumerate() {
            *digit = HEX[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        // Sixteen hex digits are always a valid header value.
        http::HeaderValue::from_bytes(&digits).unwrap_or_else(|_| http::HeaderValue::from_static("0"))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_sixteen_hex_digits() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| RequestId::next().to_string()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids
            .iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        let id = RequestId(0x0123_4567_89ab_cdef);
        assert_eq!(id.header_value(), id.to_string().as_str());
        assert_eq!(id.to_string(), "0123456789abcdef");
    }
}
