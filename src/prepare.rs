//! Everything a configuration needs before it can serve, checked in one
//! pass that reports every problem: certificates load and match their keys,
//! backends' TLS material (CA files, client certificates) loads, plugins
//! compile, link, instantiate and accept their settings in `init`, and each
//! is used for a hook it exports. `switchyard check` stops here;
//! `switchyard run` goes on to bind. Reads files: runs off the runtime.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, Problem};
use crate::plugin::{PluginEngine, PluginSet};
use crate::report::report;
use crate::tls::{claimed_twice, load_certificate, upstream_tls, ServedCertificate, UpstreamTls};

/// What a configuration needs to serve, loaded and checked.
pub struct Prepared {
    /// Every plugin, compiled and initialised.
    pub plugins: PluginSet,
    /// Certificates by listener name, in configuration order.
    pub certificates: HashMap<String, Vec<ServedCertificate>>,
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
        let field = format!("listener[{i}].tls");
        let mut served = Vec::new();
        for certificate in &tls.certificates {
            match load_certificate(&certificate.cert, certificate.key.as_deref()) {
                Ok(loaded) => {
                    if let Some(problem) = expired(&loaded) {
                        problems.push(config.problem_at(certificate.at, field.clone(), problem));
                    }
                    served.push(loaded);
                }
                Err(e) => problems.push(config.problem_at(certificate.at, field.clone(), report(&e))),
            }
        }
        for name in claimed_twice(&served) {
            problems.push(config.problem_at(
                tls.at,
                field.clone(),
                format!("two certificates claim the name {name:?}: which one to serve would be a guess"),
            ));
        }
        certificates.insert(listener.name.clone(), served);
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

/// Why a certificate cannot be served: it has expired.
fn expired(certificate: &ServedCertificate) -> Option<String> {
    let leaf = certificate.leaf.as_ref()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    (leaf.not_after <= now).then(|| {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(leaf.not_after.max(0) as u64);
        format!(
            "the certificate for {} expired on {}",
            certificate.names.join(", "),
            humantime::format_rfc3339_seconds(when)
        )
    })
}
