//! A backend as the proxy runs it: its servers, the balancer's pick
//! sequence, passive health (real requests' outcomes count against a
//! server), and the retry budget.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::budget::RetryBudget;
use super::server::Server;
use crate::config::BackendConfig;
use crate::tls::UpstreamTls;

/// A backend as the proxy runs it (see the module doc).
#[derive(Debug)]
pub struct Backend {
    /// Its name in the configuration.
    pub name: Arc<str>,
    /// The balancer plugin's name.
    pub balancer: String,
    /// Its servers, in configuration order.
    pub servers: Vec<Arc<Server>>,
    /// Its settings.
    pub config: BackendConfig,
    sequence: AtomicU64,
    /// How many retries it may still make.
    pub retry_budget: RetryBudget,
    /// Further attempts after a failed one (a metric).
    pub retries: prometheus_client::metrics::counter::Counter,
    /// Picks made in panic (a metric).
    panics: prometheus_client::metrics::counter::Counter,
    /// Whether the last pick was in panic (to log transitions once).
    panicking: std::sync::atomic::AtomicBool,
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
    /// A backend for `config`, every server new.
    pub fn new(config: &BackendConfig) -> Backend {
        Backend::reusing(config, None, None)
    }

    /// A backend for `config` (speaking TLS with `tls` when set) that keeps
    /// the servers of `previous` whose name and address did not change,
    /// with their health and pooled connections, and its pick sequence.
    /// When the protocol or the TLS settings change, every server is new:
    /// its pooled connections speak the old ones.
    pub fn reusing(config: &BackendConfig, previous: Option<&Backend>, tls: Option<Arc<UpstreamTls>>) -> Backend {
        let same_transport =
            previous.is_some_and(|p| p.config.protocol == config.protocol && p.config.tls == config.tls);
        let servers = config
            .servers
            .iter()
            .map(|s| {
                let kept = previous
                    .filter(|_| same_transport)
                    .and_then(|p| p.server(&s.name))
                    .filter(|old| old.address == s.address);
                match kept {
                    Some(old) => {
                        old.update(s, config, tls.clone());
                        Arc::clone(old)
                    }
                    None => Arc::new(Server::new(s, config, tls.clone())),
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
            panics: crate::metrics::metrics()
                .panic_picks
                .get_or_create(&crate::metrics::BackendLabels {
                    backend: config.name.clone(),
                })
                .clone(),
            panicking: std::sync::atomic::AtomicBool::new(false),
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

    /// Whether the backend is in panic (see `panic_threshold`): too few of
    /// its servers are up, and some are down by passive health alone, so
    /// those are tried anyway. Counted per pick; entering and leaving panic
    /// are logged once each.
    pub fn in_panic(&self) -> bool {
        let threshold = self.config.passive_health.panic_threshold;
        let mut eligible = 0usize;
        let mut up = 0usize;
        let mut revivable = false;
        for server in &self.servers {
            if server.admin_state() == super::server::AdminState::Maint {
                continue;
            }
            eligible += 1;
            if server.is_healthy() {
                up += 1;
            } else if server.down_only_passively() {
                revivable = true;
            }
        }
        let panic = threshold > 0.0 && revivable && eligible > 0 && (up as f64) < threshold * eligible as f64;
        if panic {
            self.panics.inc();
        }
        if self.panicking.swap(panic, Ordering::Relaxed) != panic {
            match panic {
                true => {
                    tracing::warn!(backend = %self.name, up, of = eligible, "backend in panic: trying the servers passive health took down")
                }
                false => tracing::info!(backend = %self.name, up, of = eligible, "backend out of panic"),
            }
        }
        panic
    }

    /// The next value of the per-backend sequence the balancer sees.
    pub fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// The server of this name.
    pub fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| &*s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Config;

    fn backend(extra: &str) -> Backend {
        let text = format!(
            "[[listener]]\nname = \"l\"\nbind = \"127.0.0.1:0\"\ndefault_backend = \"b\"\n\
             [backend.b]\nservers = [{{ name = \"s\", address = \"127.0.0.1:1\" }}]\n{extra}\n"
        );
        let config = Config::parse(std::path::Path::new("t.toml"), &text).expect("valid");
        Backend::new(&config.backends[0])
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_failures_mark_a_server_down_until_the_cooldown() {
        let backend = backend("passive_health = { failures = 3, cooldown = \"10s\" }");
        let server = Arc::clone(&backend.servers[0]);
        backend.observe(&server, Outcome::Failed);
        backend.observe(&server, Outcome::Failed);
        backend.observe(&server, Outcome::Answered);
        backend.observe(&server, Outcome::Failed);
        backend.observe(&server, Outcome::Failed);
        assert!(server.is_healthy(), "a success in between resets the count");
        backend.observe(&server, Outcome::Failed);
        assert!(!server.is_healthy(), "the third failure in a row");
        assert_eq!(server.passive_downs(), 1);
        tokio::time::sleep(Duration::from_millis(9_900)).await;
        assert!(!server.is_healthy(), "down for the whole cooldown");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(server.is_healthy(), "back after the cooldown (no active checks)");
    }

    #[tokio::test(start_paused = true)]
    async fn server_errors_count_only_with_on_5xx_and_active_checks_bring_it_back() {
        let lenient = backend("passive_health = { failures = 1 }");
        let server = Arc::clone(&lenient.servers[0]);
        lenient.observe(&server, Outcome::ServerError);
        assert!(server.is_healthy(), "a 5xx is an answer without on_5xx");

        let strict = backend(
            "passive_health = { failures = 1, on_5xx = true, cooldown = \"1s\" }\nhealth_check = { interval = \"1h\" }",
        );
        let server = Arc::clone(&strict.servers[0]);
        strict.observe(&server, Outcome::ServerError);
        assert!(!server.is_healthy(), "with on_5xx one 5xx is enough here");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !server.is_healthy(),
            "with active checks the cooldown does not apply: they need `rise`"
        );

        let off = backend("passive_health = { failures = 0 }");
        let server = Arc::clone(&off.servers[0]);
        for _ in 0..10 {
            off.observe(&server, Outcome::Failed);
        }
        assert!(server.is_healthy(), "failures = 0 turns passive health off");
    }
}
