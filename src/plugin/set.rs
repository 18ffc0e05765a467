//! Every plugin of one configuration, loaded and checked against how the
//! configuration uses it.

use std::collections::HashMap;
use std::sync::Arc;

use super::balancer::Balancer;
use super::builtin;
use super::chain::RequestChain;
use super::engine::PluginEngine;
use super::error::PluginError;
use super::response_chain::ResponseChain;
use super::version::PluginVersion;
use crate::config::{Config, FailurePolicy, PluginConfig, PluginSource, Problem};
use crate::content_hash::ContentHash;
use crate::report::Report;

/// Every plugin of a configuration, by name.
#[derive(Clone, Default)]
pub struct PluginSet {
    by_name: HashMap<String, Arc<PluginVersion>>,
    /// The builtin round-robin that takes over from a fail-open balancer
    /// whose call failed; loaded only when some balancer is fail-open.
    fallback_balancer: Option<Arc<PluginVersion>>,
}

impl PluginSet {
    /// Loads every plugin the configuration declares (compile, link, start
    /// one instance, `init`) and checks each is used for a hook it exports.
    /// Every problem is reported, placed at the plugin's `source`.
    pub fn load(engine: &PluginEngine, config: &Config) -> Result<PluginSet, Vec<Problem>> {
        PluginSet::load_reusing(engine, config, None)
    }

    /// Like [`load`](Self::load), but a plugin whose component bytes and
    /// settings are unchanged from `previous` is kept as it is, warm
    /// instances and all.
    pub fn load_reusing(
        engine: &PluginEngine,
        config: &Config,
        previous: Option<&PluginSet>,
    ) -> Result<PluginSet, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut by_name = HashMap::new();
        for plugin in &config.plugins {
            let loaded = component_bytes(plugin).and_then(|bytes| {
                let hash = ContentHash::of(&bytes);
                match previous
                    .and_then(|p| p.get(&plugin.name))
                    .filter(|v| v.is(plugin, hash))
                {
                    Some(kept) => {
                        // Memoised decisions last one generation.
                        kept.new_generation();
                        Ok(Arc::clone(kept))
                    }
                    None => PluginVersion::load(engine, plugin, &bytes).map(Arc::new),
                }
            });
            match loaded {
                Ok(version) => {
                    tracing::debug!(plugin = %plugin.name, source = %plugin.source, version = %version.hash().short(), "plugin loaded");
                    by_name.insert(plugin.name.clone(), version);
                }
                Err(e) => problems.push(config.problem_at(
                    plugin.at,
                    format!("plugin.{}", plugin.name),
                    format!("{} ({})", Report(&e), plugin.source),
                )),
            }
        }
        let fallback_balancer = match fallback_needed(config, &by_name) {
            false => None,
            true => match load_fallback_balancer(engine, previous) {
                Ok(fallback) => Some(fallback),
                Err(e) => {
                    problems.push(config.problem_at(
                        Default::default(),
                        "",
                        format!("the fail-open fallback balancer did not load: {}", Report(&e)),
                    ));
                    None
                }
            },
        };
        let set = PluginSet {
            by_name,
            fallback_balancer,
        };
        set.check_usage(config, &mut problems);
        if problems.is_empty() {
            Ok(set)
        } else {
            Err(problems)
        }
    }

    /// The plugin of this name.
    pub fn get(&self, name: &str) -> Option<&Arc<PluginVersion>> {
        self.by_name.get(name)
    }

    /// The balancer plugin of this name, with its failure policy applied
    /// (`None` when it is not loaded; `load` has reported it).
    pub fn balancer(&self, name: &str) -> Option<Balancer> {
        let plugin = Arc::clone(self.get(name)?);
        let fallback = match plugin.on_error() {
            FailurePolicy::Open => self.fallback_balancer.clone(),
            FailurePolicy::Closed { .. } => None,
        };
        Some(Balancer::new(plugin, fallback))
    }

    /// The request chain of the named plugins that export a request hook
    /// (unknown names are skipped; `load` has already reported them).
    pub fn chain(&self, names: &[String]) -> RequestChain {
        RequestChain::new(
            names
                .iter()
                .filter_map(|n| self.get(n).cloned())
                .filter(|p| p.has_request_hook())
                .collect(),
        )
    }

    /// The response hooks of the named plugins (see [`ResponseChain`]).
    pub fn responses(&self, names: &[String]) -> ResponseChain {
        let plugins: Vec<_> = names.iter().filter_map(|n| self.get(n).cloned()).collect();
        ResponseChain::new(&plugins)
    }

    fn check_usage(&self, config: &Config, problems: &mut Vec<Problem>) {
        for listener in &config.listeners {
            for name in &listener.plugins {
                if let (Some(plugin), Some(cfg)) = (self.get(name), config.plugin(name)) {
                    if !plugin.has_request_hook() && !plugin.has_response_hook() {
                        problems.push(config.problem_at(
                            cfg.at,
                            format!("plugin.{name}"),
                            format!(
                                "listener \"{}\" runs it, but it exports neither request-hook nor response-hook",
                                listener.name
                            ),
                        ));
                    }
                }
            }
        }
        for backend in &config.backends {
            if let (Some(plugin), Some(cfg)) = (self.get(&backend.balancer), config.plugin(&backend.balancer)) {
                if !plugin.has_balancer() {
                    problems.push(config.problem_at(
                        cfg.at,
                        format!("plugin.{}", backend.balancer),
                        format!(
                            "backend \"{}\" uses it as its balancer, but it exports no balancer",
                            backend.name
                        ),
                    ));
                }
            }
        }
    }
}

/// Whether a backend's balancer is fail-open, so the fallback is needed.
fn fallback_needed(config: &Config, loaded: &HashMap<String, Arc<PluginVersion>>) -> bool {
    config.backends.iter().any(|b| {
        loaded
            .get(&b.balancer)
            .is_some_and(|p| p.on_error() == FailurePolicy::Open)
    })
}

/// The builtin round-robin as the fail-open fallback (kept from `previous`
/// when it has one: it never changes while the binary runs).
fn load_fallback_balancer(
    engine: &PluginEngine,
    previous: Option<&PluginSet>,
) -> Result<Arc<PluginVersion>, PluginError> {
    if let Some(kept) = previous.and_then(|p| p.fallback_balancer.as_ref()) {
        return Ok(Arc::clone(kept));
    }
    let config = PluginConfig::fallback_balancer();
    let bytes = component_bytes(&config)?;
    PluginVersion::load(engine, &config, &bytes).map(Arc::new)
}

/// The component named by a plugin's `source`. Reads the file: call it off
/// the runtime (plugins load in spawn_blocking).
#[allow(clippy::disallowed_methods)]
fn component_bytes(plugin: &PluginConfig) -> Result<std::borrow::Cow<'static, [u8]>, PluginError> {
    Ok(match &plugin.source {
        PluginSource::Builtin(name) => builtin::builtin(name)
            .ok_or_else(|| PluginError::UnknownBuiltin {
                name: name.clone(),
                known: builtin::names(),
            })?
            .into(),
        PluginSource::File(path) => std::fs::read(path).map_err(PluginError::Read)?.into(),
    })
}
