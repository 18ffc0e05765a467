//! Listeners cannot move while the proxy runs: what a new configuration
//! changes about them is logged as needing a restart.

use super::Reloader;
use crate::config::Config;

impl Reloader {
    /// Logs every listener the new configuration adds, removes, or moves.
    pub(super) fn warn_about_listeners(&self, config: &Config) {
        for old in &self.bound {
            match config.listeners.iter().find(|l| l.name == old.name) {
                None => {
                    tracing::warn!(listener = %old.name, "listener removed from the configuration: it keeps its socket and answers 503 until a restart")
                }
                Some(new) if new.bind != old.bind || new.tls.is_some() != old.tls.is_some() => {
                    tracing::warn!(listener = %old.name, old = %old.bind, new = %new.bind, "a listener's address or TLS setting changed: restart to apply it; its routes and plugins changed now")
                }
                Some(_) => {}
            }
        }
        for new in &config.listeners {
            if !self.bound.iter().any(|l| l.name == new.name) {
                tracing::warn!(listener = %new.name, bind = %new.bind, "new listener: restart to bind it");
            }
        }
    }
}
