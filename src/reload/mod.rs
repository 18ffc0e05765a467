//! Hot swap: plugins, configuration and certificates change while the proxy
//! serves, with no request failed.
//!
//! Every change goes through one path, [`Reloader::apply`], serialized so
//! two reloads never interleave:
//!
//! 1. the configuration (re-read, or the current one when only plugin files
//!    changed) is prepared off the request path: every plugin whose
//!    component or settings changed is compiled, instantiated and `init`ed;
//!    unchanged plugins are kept with their warm instances; certificates
//!    load and must match their keys;
//! 2. any problem rejects the whole change: it is logged with the plugin's
//!    name, file, content hash and the generation that keeps serving, and
//!    recorded in [`SwapStatus`];
//! 3. otherwise a new [`Generation`] is built, keeping servers whose name
//!    and address did not change (health state and pooled connections go
//!    on), and published with one atomic pointer swap. Requests in flight
//!    finish on the generation they started with; an old plugin version's
//!    instances and memory are freed when its last request ends;
//! 4. health checkers follow the new backends, and certificates are swapped
//!    into their listeners' resolvers for new handshakes.
//!
//! Listeners cannot move while running: a changed address, TLS turned on or
//! off, or a listener added or removed is logged as needing a restart.
//! `watch.rs` turns file events into calls here; SIGHUP and the admin
//! endpoint call [`Reloader::reload_config`] directly.

mod status;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

pub use status::{CertificateStatus, PluginStatus, ReloadRecord, SwapStatus};
pub use watch::spawn_watcher;

use crate::config::{Config, ConfigError, ListenerConfig, PluginSource, Problem};
use crate::plugin::{ContentHash, PluginEngine};
use crate::prepare::prepare_reusing;
use crate::proxy::{Generation, Proxy};
use crate::tls::{load_certified_key, CertificateStore};
use crate::upstream::HealthCheckers;

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("rejected, generation {keeps} keeps serving:\n{}", list(.problems))]
    Rejected { keeps: u64, problems: Vec<Problem> },
    #[error("reload aborted: {0}")]
    Aborted(String),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// A TLS listener's certificate store, with where its files are.
pub struct CertificateSlot {
    pub listener: String,
    pub store: Arc<CertificateStore>,
}

pub struct Reloader {
    config_path: PathBuf,
    proxy: Arc<Proxy>,
    engine: Arc<PluginEngine>,
    /// The listeners as bound at start; they cannot change while running.
    bound: Vec<ListenerConfig>,
    certificates: Vec<CertificateSlot>,
    health: HealthCheckers,
    shutdown: CancellationToken,
    status: Mutex<SwapStatus>,
    /// Held for the whole of a reload: one at a time.
    serial: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        proxy: Arc<Proxy>,
        engine: Arc<PluginEngine>,
        certificates: Vec<CertificateSlot>,
        shutdown: CancellationToken,
    ) -> Reloader {
        let generation = proxy.generation();
        let config = &generation.config;
        let reloader = Reloader {
            config_path: config.file.clone(),
            bound: config.listeners.clone(),
            proxy: Arc::clone(&proxy),
            engine,
            certificates,
            health: HealthCheckers::default(),
            shutdown,
            status: Mutex::new(SwapStatus {
                generation: generation.number,
                config_file: config.file.display().to_string(),
                ..SwapStatus::default()
            }),
            serial: tokio::sync::Mutex::new(()),
        };
        reloader.health.sync(&generation.backend_list(), &reloader.shutdown);
        reloader.record_published(&generation, None, "start");
        for slot in &reloader.certificates {
            reloader.install_certificate(slot, (*slot.store.current()).clone());
        }
        reloader
    }

    pub fn proxy(&self) -> &Arc<Proxy> {
        &self.proxy
    }

    pub fn health_checkers(&self) -> &HealthCheckers {
        &self.health
    }

    pub fn status(&self) -> SwapStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Re-reads the configuration file and applies it.
    pub async fn reload_config(&self, cause: &str) -> Result<u64, ReloadError> {
        match Config::load(&self.config_path) {
            Ok(config) => self.apply(config, cause).await,
            Err(error) => {
                let current = self.proxy.generation().number;
                tracing::warn!(file = %self.config_path.display(), generation = current, cause, "configuration rejected, the current one keeps serving:\n{error}");
                self.record_rejection(cause, &error.to_string(), error.problems());
                Err(error.into())
            }
        }
    }

    /// Reloads plugin files under the current configuration.
    pub async fn reload_plugins(&self, cause: &str) -> Result<u64, ReloadError> {
        let config = (*self.proxy.generation().config).clone();
        self.apply(config, cause).await
    }

    /// Prepares `config` off the request path and publishes it as a new
    /// generation, or rejects it whole.
    pub async fn apply(&self, config: Config, cause: &str) -> Result<u64, ReloadError> {
        let _one_at_a_time = self.serial.lock().await;
        let current = self.proxy.generation();
        let config = Arc::new(config);
        let prepared = {
            let (config, engine, current) = (Arc::clone(&config), Arc::clone(&self.engine), Arc::clone(&current));
            tokio::task::spawn_blocking(move || prepare_reusing(&config, &engine, Some(&current.plugins))).await
        };
        let prepared = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(problems)) => {
                self.log_rejection(&config, &problems, current.number, cause);
                let message = list(&problems);
                self.record_rejection(cause, &message, &problems);
                return Err(ReloadError::Rejected {
                    keeps: current.number,
                    problems,
                });
            }
            Err(e) => return Err(ReloadError::Aborted(e.to_string())),
        };
        self.warn_about_listeners(&config);
        let number = current.number + 1;
        let generation = Generation::build(number, Arc::clone(&config), prepared.plugins, Some(&current))
            .ok_or_else(|| ReloadError::Aborted("a backend's balancer plugin is missing".into()))?;
        let generation = Arc::new(generation);
        self.log_swaps(&current, &generation);
        self.proxy.publish_shared(Arc::clone(&generation));
        self.health.sync(&generation.backend_list(), &self.shutdown);
        for slot in &self.certificates {
            if let Some(key) = prepared.certificates.get(&slot.listener) {
                self.install_certificate(slot, key.clone());
            }
        }
        self.record_published(&generation, Some(&current), cause);
        tracing::info!(generation = number, cause, "new generation serving");
        Ok(number)
    }

    /// Re-reads every TLS listener's certificate files; a pair that loads
    /// and matches replaces the served certificate for new handshakes, a
    /// broken one is logged and the old certificate stays.
    pub async fn reload_certificates(&self) {
        let _one_at_a_time = self.serial.lock().await;
        let config = Arc::clone(&self.proxy.generation().config);
        for slot in &self.certificates {
            let Some(tls) = config
                .listeners
                .iter()
                .find(|l| l.name == slot.listener)
                .and_then(|l| l.tls.clone())
            else {
                continue;
            };
            let loaded = tokio::task::spawn_blocking(move || load_certified_key(&tls.cert, tls.key.as_deref())).await;
            match loaded {
                Ok(Ok(key)) => self.install_certificate(slot, key),
                Ok(Err(error)) => {
                    tracing::warn!(listener = %slot.listener, %error, "certificate rejected, the previous one keeps serving");
                    self.with_status(|s| {
                        if let Some(c) = s.certificates.iter_mut().find(|c| c.listener == slot.listener) {
                            c.last_error = Some(error.to_string());
                        }
                    });
                }
                Err(e) => tracing::error!(listener = %slot.listener, error = %e, "certificate reload aborted"),
            }
        }
    }

    /// Every file whose change means something, and what it means.
    pub fn watched_files(&self) -> Vec<(PathBuf, WatchTarget)> {
        let generation = self.proxy.generation();
        let mut files = vec![(self.config_path.clone(), WatchTarget::Config)];
        for plugin in &generation.config.plugins {
            if let PluginSource::File(path) = &plugin.source {
                files.push((path.clone(), WatchTarget::Plugin));
            }
        }
        for listener in &generation.config.listeners {
            if let Some(tls) = &listener.tls {
                files.push((tls.cert.clone(), WatchTarget::Certificate));
                if let Some(key) = &tls.key {
                    files.push((key.clone(), WatchTarget::Certificate));
                }
            }
        }
        files
    }

    fn install_certificate(&self, slot: &CertificateSlot, key: rustls::sign::CertifiedKey) {
        let fingerprint = |k: &rustls::sign::CertifiedKey| k.cert.first().map(|c| ContentHash::of(c).to_string());
        let new = fingerprint(&key).unwrap_or_default();
        let old = fingerprint(&slot.store.current()).unwrap_or_default();
        if new != old {
            slot.store.replace(key);
            tracing::info!(listener = %slot.listener, fingerprint = %&new[..12.min(new.len())], "certificate replaced for new handshakes");
        }
        let leaf = slot.store.current().cert.first().and_then(|c| crate::tls::describe(c));
        if let Some(leaf) = &leaf {
            crate::metrics::metrics()
                .certificate_expiry
                .get_or_create(&crate::metrics::CertificateLabels {
                    listener: slot.listener.clone(),
                    subject: leaf.subject.clone(),
                })
                .set(leaf.not_after);
        }
        self.with_status(|s| {
            let entry = CertificateStatus {
                listener: slot.listener.clone(),
                fingerprint: new.clone(),
                subject: leaf.as_ref().map(|l| l.subject.clone()),
                not_after: leaf.as_ref().map(|l| l.not_after),
                last_error: None,
            };
            match s.certificates.iter_mut().find(|c| c.listener == slot.listener) {
                Some(c) => *c = entry,
                None => s.certificates.push(entry),
            }
        });
    }

    fn warn_about_listeners(&self, config: &Config) {
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

    fn log_swaps(&self, before: &Generation, after: &Generation) {
        for plugin in &after.config.plugins {
            let Some(version) = after.plugins.get(&plugin.name) else {
                continue;
            };
            let kept = before
                .plugins
                .get(&plugin.name)
                .is_some_and(|old| Arc::ptr_eq(old, version));
            if !kept {
                tracing::info!(
                    plugin = %plugin.name,
                    file = %plugin.source,
                    hash = %version.hash().short(),
                    generation = after.number,
                    "plugin version now serving"
                );
            }
        }
    }

    fn log_rejection(&self, config: &Config, problems: &[Problem], keeps: u64, cause: &str) {
        for problem in problems {
            let plugin = plugin_named_by(problem).and_then(|name| config.plugin(name));
            match plugin {
                Some(plugin) => tracing::warn!(
                    plugin = %plugin.name,
                    file = %plugin.source,
                    hash = %source_hash(&plugin.source),
                    generation = keeps,
                    cause,
                    "plugin rejected, generation {keeps} keeps serving: {}",
                    problem.message
                ),
                None => tracing::warn!(
                    generation = keeps,
                    cause,
                    "change rejected, generation {keeps} keeps serving: {problem}"
                ),
            }
        }
    }

    fn record_published(&self, generation: &Generation, before: Option<&Generation>, cause: &str) {
        crate::metrics::metrics().generation.set(generation.number as i64);
        self.with_status(|s| {
            let previous = std::mem::take(&mut s.plugins);
            s.generation = generation.number;
            s.plugins = generation
                .config
                .plugins
                .iter()
                .filter_map(|p| {
                    let version = generation.plugins.get(&p.name)?;
                    let kept = before
                        .and_then(|b| b.plugins.get(&p.name))
                        .is_some_and(|old| Arc::ptr_eq(old, version));
                    let earlier = previous.iter().find(|old| old.name == p.name);
                    let since = match earlier {
                        Some(old) if kept => old.since_generation,
                        _ => generation.number,
                    };
                    Some(PluginStatus {
                        name: p.name.clone(),
                        source: p.source.to_string(),
                        hash: version.hash().to_string(),
                        since_generation: since,
                        last_error: None,
                    })
                })
                .collect();
            s.last_reload = Some(ReloadRecord {
                at: status::now(),
                cause: cause.to_string(),
                published: Some(generation.number),
                error: None,
            });
        });
    }

    fn record_rejection(&self, cause: &str, message: &str, problems: &[Problem]) {
        self.with_status(|s| {
            for problem in problems {
                if let Some(name) = plugin_named_by(problem) {
                    if let Some(p) = s.plugins.iter_mut().find(|p| p.name == name) {
                        p.last_error = Some(problem.message.clone());
                    }
                }
            }
            s.last_reload = Some(ReloadRecord {
                at: status::now(),
                cause: cause.to_string(),
                published: None,
                error: Some(message.to_string()),
            });
        });
    }

    fn with_status(&self, change: impl FnOnce(&mut SwapStatus)) {
        if let Ok(mut status) = self.status.lock() {
            change(&mut status);
        }
    }
}

/// What a watched file is to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchTarget {
    Config,
    Plugin,
    Certificate,
}

/// `plugin.NAME` or `plugin.NAME.field` → `NAME`.
fn plugin_named_by(problem: &Problem) -> Option<&str> {
    let rest = problem.field.strip_prefix("plugin.")?;
    Some(rest.split('.').next().unwrap_or(rest))
}

/// The short content hash of a plugin file as it is on disk now.
fn source_hash(source: &PluginSource) -> String {
    match source {
        PluginSource::File(path) => std::fs::read(path)
            .map(|b| ContentHash::of(&b).short())
            .unwrap_or_else(|e| format!("unreadable ({e})")),
        PluginSource::Builtin(_) => "builtin".into(),
    }
}

/// `path`'s directory and file name, with the directory resolved, so events
/// from the watcher can be matched to it whatever form the path had.
pub(crate) fn watch_key(path: &Path) -> Option<(PathBuf, std::ffi::OsString)> {
    let name = path.file_name()?.to_os_string();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Some((dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()), name))
}
