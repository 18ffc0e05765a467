//! Everything a configuration needs before it can serve, checked in one
//! pass that reports every problem: certificates load and match their keys,
//! backends' TLS material (CA files, client certificates) loads, plugins
//! compile, link, instantiate and accept their settings in `init`, and each
//! is used for a hook it exports. `switchyard check` stops here;
//! `switchyard run` goes on to bind. Reads files: runs off the runtime.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use crate::config::{Config, Problem};
use crate::plugin::{PluginEngine, PluginSet};
use crate::report::report;
use crate::tls::{load_certified_key, upstream_tls, UpstreamTls};

/// What a configuration needs to serve, loaded and checked.
pub struct Prepared {
    /// Every plugin, compiled and initialised.
    pub plugins: PluginSet,
    /// Certificates by listener name.
    pub certificates: HashMap<String, CertifiedKey>,
    /// TLS clients by backend name (backends with `tls` only).
    pub upstream_tls: HashMap<String, Arc<UpstreamTls>>,
}

/// Loads every certificate and plugin of `config`, reporting every problem.
pub fn prepare(config: &Config, engine: &PluginEngine) -> Result<Prepared, Vec<Problem>> {
    prepare_reusing(config, engine, None)
}

/// Like [`prepare`], keeping the plugins of `previous` whose component and
/// settings did not change.
pub fn prepare_reusing(
    config: &Config,
    engine: &PluginEngine,
    previous: Option<&PluginSet>,
) -> Result<Prepared, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut certificates = HashMap::new();
    for (i, listener) in config.listeners.iter().enumerate() {
        let Some(tls) = &listener.tls else { continue };
        match load_certified_key(&tls.cert, tls.key.as_deref()) {
            Ok(key) => {
                certificates.insert(listener.name.clone(), key);
            }
            Err(e) => problems.push(config.problem_at(tls.at, format!("listener[{i}].tls"), crate::report::report(&e))),
        }
    }
    let mut upstream = HashMap::new();
    for backend in &config.backends {
        let Some(tls) = &backend.tls else { continue };
        if tls.insecure_skip_verify {
            tracing::warn!(backend = %backend.name, "tls.insecure_skip_verify: the servers' certificates are not verified");
        }
        match upstream_tls(tls, backend.protocol) {
            Ok(client) => {
                upstream.insert(backend.name.clone(), Arc::new(client));
            }
            Err(e) => problems.push(config.problem_at(tls.at, format!("backend.{}.tls", backend.name), report(&e))),
        }
    }
    let plugins = match PluginSet::load_reusing(engine, config, previous) {
        Ok(plugins) => Some(plugins),
        Err(found) => {
            problems.extend(found);
            None
        }
    };
    match plugins {
        Some(plugins) if problems.is_empty() => Ok(Prepared {
            plugins,
            certificates,
            upstream_tls: upstream,
        }),
        _ => Err(problems),
    }
}
