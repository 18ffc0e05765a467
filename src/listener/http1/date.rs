//! The `Date` of responses that have none, formatted once a second.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// An IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
const LENGTH: usize = 29;

thread_local! {
    /// The second last formatted, and its text (each worker thread its own).
    static CACHED: RefCell<(u64, [u8; LENGTH])> = const { RefCell::new((0, [b' '; LENGTH])) };
}

/// Appends the current date to `out`.
pub fn extend(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            let formatted = httpdate::fmt_http_date(now);
            if formatted.len() == LENGTH {
                text.copy_from_slice(formatted.as_bytes());
                *cached = second;
            }
        }
        out.extend_from_slice(text);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_date_is_an_imf_fixdate_of_now() {
        let mut out = Vec::new();
        super::extend(&mut out);
        let text = String::from_utf8(out).unwrap();
        let parsed = httpdate::parse_http_date(&text).unwrap();
        let drift = std::time::SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(drift < std::time::Duration::from_secs(5), "{text}");
    }
}
