//! How an error is shown to people: its message, then each cause in turn
//! (`cannot read x.wasm: No such file or directory`).
//!
//! Every error type of the crate keeps its cause as a `#[source]` and
//! leaves it out of its own message, so a cause is printed once, here,
//! however deep the chain.

use std::error::Error;
use std::fmt;

/// Displays an error and its chain of sources, joined by `: `.
pub struct Report<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `error` with its causes, as one line.
pub fn report(error: &(dyn Error + 'static)) -> String {
    Report(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot load the plugin")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_cause_is_printed_once_in_order() {
        let error = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(report(&error), "cannot load the plugin: disk on fire");
    }
}
