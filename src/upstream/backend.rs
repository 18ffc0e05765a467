//! A backend as the proxy runs it: its servers, the balancer's pick
//! sequence, passive health (real requests' outcomes count against a
//! server), and the retry budget.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::budget::RetryBudget;
use super::server::Server;
use crate::config::BackendConfig;

#[derive(Debug)]
pub struct Backend {
    pub name: Arc<str>,
    /// The balancer plugin's name.
    pub balancer: String,
    pub servers: Vec<Arc<Server>>,
    pub config: BackendConfig,
    sequence: AtomicU64,
    pub retry_budget: RetryBudget,
    /// Further attempts after a failed one (a metric).
    pub retries: prometheus_client::metrics::counter::Counter,
}

/// How a real request to a server went, for passive health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response came back (under 500, or any status without `on_5xx`).
    Answered,
    /// A 5xx response.
    ServerError,
    /// No connection, or it broke before a response.
    Failed,
}

impl Backend {
    pub fn new(config: &BackendConfig) -> Backend {
        Backend::reusing(config, None)
    }

    /// A backend for `config` that keeps the servers of `previous` whose
    /// name and address did not change (with their health and pooled
    /// connections), and its pick sequence.
    pub fn reusing(config: &BackendConfig, previous: Option<&Backend>) -> Backend {
        let servers = config
            .servers
            .iter()
            .map(|s| {
                let kept = previous
                    .and_then(|p| p.server(&s.name))
                    .filter(|old| old.address == s.address);
                match kept {
                    Some(old) => {
                        old.update(s, config);
                        Arc::clone(old)
                    }
                    None => Arc::new(Server::new(s, config)),
                }
            })
            .collect();
        let sequence = previous.map_or(0, |p| p.sequence.load(Ordering::Relaxed));
        Backend {
            name: Arc::from(config.name.as_str()),
            balancer: config.balancer.clone(),
            servers,
            config: config.clone(),
            sequence: AtomicU64::new(sequence),
            retry_budget: RetryBudget::new(&config.retry_budget),
            retries: crate::metrics::metrics()
                .retries
                .get_or_create(&crate::metrics::BackendLabels {
                    backend: config.name.clone(),
                })
                .clone(),
        }
    }

    /// Passive health: counts `outcome` for `server`. Enough consecutive
    /// failures mark it down before an active check would; without active
    /// checks it comes back after the cooldown.
    pub fn observe(&self, server: &Arc<Server>, outcome: Outcome) {
        let passive = &self.config.passive_health;
        let failed = match outcome {
            Outcome::Answered => false,
            Outcome::ServerError => passive.on_5xx,
            Outcome::Failed => true,
        };
        if !failed {
            server.passive_success();
            return;
        }
        if !server.passive_failure(passive.failures) {
            return;
        }
        tracing::warn!(backend = %self.name, server = %server.name, failures = passive.failures, "server marked down by passive health");
        if self.config.health_check.is_none() {
            let (server, cooldown, backend) = (Arc::clone(server), passive.cooldown, Arc::clone(&self.name));
            tokio::spawn(async move {
                tokio::time::sleep(cooldown).await;
                server.passive_recover();
                tracing::info!(%backend, server = %server.name, "server back after the passive-health cooldown");
            });
        }
    }

    /// The next value of the per-backend sequence the balancer sees.
    pub fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    pub fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| &*s.name == name)
    }
}
