//! A deadline moved on request after request without touching tokio's
//! timer wheel: its sleep keeps an earlier deadline, and when it fires
//! before the one that counts now it is set again to that one. Our
//! HTTP/1.1 server's `header_read_timeout` and our HTTP/1.1 client's
//! response timeout keep theirs this way (a sleep made or reset per
//! request costs a registration with the wheel and its removal).

use std::pin::Pin;
use std::task::Context;

use tokio::time::{Instant, Sleep};

/// Whether `deadline` has passed, by `sleep`, whose own deadline is no
/// later than `deadline` (the waker is registered if not).
pub fn poll_passed(mut sleep: Pin<&mut Sleep>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    while std::future::Future::poll(sleep.as_mut(), cx).is_ready() {
        if sleep.deadline() >= deadline {
            return true;
        }
        sleep.as_mut().reset(deadline);
    }
    false
}
