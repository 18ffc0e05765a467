//! A generation: one configuration with everything built from it (plugins,
//! backends, each listener's chain). Requests pin the generation they start
//! with; a reload publishes a new one.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, ListenerLimits, PathNormalization};
use crate::plugin::{Balancer, PluginSet, RequestChain, ResponseChain};
use crate::tls::UpstreamTls;
use crate::upstream::Backend;

/// One configuration and everything built from it.
pub struct Generation {
    /// Increases by one with every published configuration.
    pub number: u64,
    /// The configuration.
    pub config: Arc<Config>,
    /// Its plugins, loaded.
    pub plugins: PluginSet,
    /// Its backends with their balancers, by name.
    pub backends: ByName<BalancedBackend>,
    /// Per listener name.
    pub listeners: ByName<ListenerRoute>,
}

/// A map by configured name, looked up for every request (the listener's
/// route, the backend a plugin names): hashed with `foldhash` rather than
/// SipHash, since the names come from the configuration, not from clients.
pub type ByName<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// A backend's balancer was not among the loaded plugins.
#[derive(Debug, thiserror::Error)]
#[error("backend \"{backend}\" uses balancer \"{balancer}\", which is not loaded")]
pub struct MissingBalancer {
    /// The backend.
    pub backend: String,
    /// The plugin it names.
    pub balancer: String,
}

/// A backend and the balancer plugin that picks its servers.
#[derive(Clone)]
pub struct BalancedBackend {
    /// The backend and its servers.
    pub backend: Arc<Backend>,
    /// Its balancer plugin, failure policy applied.
    pub balancer: Balancer,
}

/// What a listener does with a request.
pub struct ListenerRoute {
    /// Its request hooks.
    pub chain: RequestChain,
    /// Its response hooks (the same plugins that export one, reversed).
    pub responses: ResponseChain,
    /// Where requests go when every hook continues.
    pub default_backend: Option<BalancedBackend>,
    /// What it accepts from clients.
    pub limits: ListenerLimits,
    /// How it normalises request paths.
    pub normalize_path: PathNormalization,
    /// Its metric handles.
    pub metrics: crate::metrics::ListenerMetrics,
}

impl Generation {
    /// Assembles a generation from a configuration whose plugins loaded,
    /// keeping from `previous` the servers whose name and address did not
    /// change (their health state and pooled connections go on). A balancer
    /// missing from `plugins` (which `PluginSet::load` has reported) is an
    /// error.
    pub fn build(
        number: u64,
        config: Arc<Config>,
        plugins: PluginSet,
        upstream_tls: &HashMap<String, Arc<UpstreamTls>>,
        previous: Option<&Generation>,
    ) -> Result<Generation, MissingBalancer> {
        let mut backends = ByName::default();
        for b in &config.backends {
            let balancer = plugins.balancer(&b.balancer).ok_or_else(|| MissingBalancer {
                backend: b.name.clone(),
                balancer: b.balancer.clone(),
            })?;
            let before = previous.and_then(|p| p.backends.get(&b.name)).map(|bb| &*bb.backend);
            let backend = Arc::new(Backend::reusing(b, before, upstream_tls.get(&b.name).cloned()));
            backends.insert(b.name.clone(), BalancedBackend { backend, balancer });
        }
        let listeners = config
            .listeners
            .iter()
            .map(|l| {
                let route = ListenerRoute {
                    chain: plugins.chain(&l.plugins),
                    responses: plugins.responses(&l.plugins),
                    default_backend: l.default_backend.as_ref().and_then(|b| backends.get(b).cloned()),
                    limits: l.limits.clone(),
                    normalize_path: l.normalize_path.clone(),
                    metrics: crate::metrics::ListenerMetrics::new(&l.name),
                };
                (l.name.clone(), route)
            })
            .collect();
        Ok(Generation {
            number,
            config,
            plugins,
            backends,
            listeners,
        })
    }

    /// Its backends, in configuration order.
    pub fn backend_list(&self) -> Vec<Arc<Backend>> {
        self.config
            .backends
            .iter()
            .filter_map(|b| self.backends.get(&b.name).map(|bb| Arc::clone(&bb.backend)))
            .collect()
    }
}
