//! Lines in the proxy's log, tagged with the plugin's name and version. A
//! line below the proxy's level costs no more than the call.

use crate::host::{self, Level};

/// A `trace` line.
pub fn trace(message: impl AsRef<str>) {
    host::log(Level::Trace, message.as_ref());
}

/// A `debug` line.
pub fn debug(message: impl AsRef<str>) {
    host::log(Level::Debug, message.as_ref());
}

/// An `info` line.
pub fn info(message: impl AsRef<str>) {
    host::log(Level::Info, message.as_ref());
}

/// A `warn` line.
pub fn warn(message: impl AsRef<str>) {
    host::log(Level::Warn, message.as_ref());
}

/// An `error` line.
pub fn error(message: impl AsRef<str>) {
    host::log(Level::Error, message.as_ref());
}
