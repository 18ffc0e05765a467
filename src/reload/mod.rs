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
//! Reading the configuration file (which resolves server names) and
//! preparing it both run on blocking threads, never on a runtime worker:
//! with `workers = 1` a slow DNS answer would otherwise stall every
//! connection.
//!
//! Listeners cannot move while running: a changed address, TLS turned on or
//! off, or a listener added or removed is logged as needing a restart
//! (`listeners.rs`). `certificates.rs` reloads certificate files,
//! `record.rs` logs and records every outcome, `watch.rs` turns file events
//! into calls here; SIGHUP and the admin endpoint call
//! [`Reloader::reload_config`] directly.

mod certificates;
mod listeners;
mod record;
mod status;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

pub use certificates::CertificateSlot;
pub use status::{CertificateStatus, InProgress, PluginStatus, ReloadRecord, SwapStatus};
pub use watch::spawn_watcher;

use crate::config::{Config, ConfigError, ListenerConfig, PluginSource, Problem, ProblemList};
use crate::plugin::PluginEngine;
use crate::prepare::prepare_reusing;
use crate::proxy::{Generation, Proxy};
use crate::report::Report;
use crate::upstream::HealthCheckers;

/// Why a change was not published (the running generation keeps serving).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The configuration file cannot be read or has problems.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Preparing it found problems (plugins, certificates).
    #[error("rejected, generation {keeps} keeps serving:\n{}", ProblemList(.problems))]
    Rejected {
        /// The generation still serving.
        keeps: u64,
        /// Every problem.
        problems: Vec<Problem>,
    },
    /// Reading or preparing it panicked.
    #[error("reload aborted: preparing it panicked")]
    Aborted(#[source] tokio::task::JoinError),
    /// The generation could not be assembled.
    #[error("reload aborted")]
    Build(#[from] crate::proxy::MissingBalancer),
}

/// The one path every change takes (see the module doc).
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
    /// A reloader for the proxy's current generation. Nothing runs until
    /// [`start_health_checks`](Self::start_health_checks).
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
        reloader.record_published(&generation, None, "start");
        for slot in &reloader.certificates {
            reloader.install_certificates(slot, &slot.store.certificates());
        }
        reloader
    }

    /// Starts a health checker for every server of the current generation
    /// that has checks (each publish keeps them in step afterwards).
    pub fn start_health_checks(&self) {
        self.health
            .sync(&self.proxy.generation().backend_list(), &self.shutdown);
    }

    /// The proxy it publishes to.
    pub fn proxy(&self) -> &Arc<Proxy> {
        &self.proxy
    }

    /// The running health checkers.
    pub fn health_checkers(&self) -> &HealthCheckers {
        &self.health
    }

    /// What it has done so far.
    pub fn status(&self) -> SwapStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Re-reads the configuration file (on a blocking thread: reading it
    /// resolves server names) and applies it.
    pub async fn reload_config(&self, cause: &str) -> Result<u64, ReloadError> {
        let path = self.config_path.clone();
        let loaded = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .map_err(ReloadError::Aborted)?;
        match loaded {
            Ok(config) => self.apply(config, cause).await,
            Err(error) => {
                let current = self.proxy.generation().number;
                tracing::warn!(file = %self.config_path.display(), generation = current, cause, "configuration rejected, the current one keeps serving:\n{}", Report(&error));
                self.record_rejection(cause, &Report(&error).to_string(), error.problems(), &HashMap::new());
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
        let _shown = InProgressGuard::start(self, cause);
        let current = self.proxy.generation();
        let config = Arc::new(config);
        let prepared = {
            let (config, engine, current) = (Arc::clone(&config), Arc::clone(&self.engine), Arc::clone(&current));
            tokio::task::spawn_blocking(move || prepare_reusing(&config, &engine, Some(&current.plugins))).await
        };
        let prepared = match prepared {
            Ok(Ok(prepared)) => prepared,
            Ok(Err(problems)) => {
                let hashes = {
                    let (config, problems) = (Arc::clone(&config), problems.clone());
                    tokio::task::spawn_blocking(move || record::rejected_hashes(&config, &problems))
                        .await
                        .unwrap_or_default()
                };
                self.log_rejection(&config, &problems, &hashes, current.number, cause);
                let message = ProblemList(&problems).to_string();
                self.record_rejection(cause, &message, &problems, &hashes);
                return Err(ReloadError::Rejected {
                    keeps: current.number,
                    problems,
                });
            }
            Err(e) => return Err(ReloadError::Aborted(e)),
        };
        self.warn_about_listeners(&config);
        let number = current.number + 1;
        let generation = Generation::build(
            number,
            Arc::clone(&config),
            prepared.plugins,
            &prepared.upstream_tls,
            Some(&current),
        )?;
        let generation = Arc::new(generation);
        self.log_swaps(&current, &generation);
        self.proxy.publish_shared(Arc::clone(&generation));
        self.health.sync(&generation.backend_list(), &self.shutdown);
        for slot in &self.certificates {
            if let Some(served) = prepared.certificates.get(&slot.listener) {
                self.install_certificates(slot, served);
            }
        }
        self.record_published(&generation, Some(&current), cause);
        tracing::info!(generation = number, cause, "new generation serving");
        Ok(number)
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
            for certificate in listener.tls.iter().flat_map(|tls| &tls.certificates) {
                files.push((certificate.cert.clone(), WatchTarget::Certificate));
                if let Some(key) = &certificate.key {
                    files.push((key.clone(), WatchTarget::Certificate));
                }
            }
        }
        files
    }
}

/// What a watched file is to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatchTarget {
    /// The configuration file: re-read and applied.
    Config,
    /// A plugin component: its plugin is reloaded.
    Plugin,
    /// A certificate or key: the listener's certificate is reloaded.
    Certificate,
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

/// Shows a reload as in progress in the status until it ends, however it
/// ends.
struct InProgressGuard<'r> {
    reloader: &'r Reloader,
}

impl<'r> InProgressGuard<'r> {
    fn start(reloader: &'r Reloader, cause: &str) -> InProgressGuard<'r> {
        reloader.with_status(|s| {
            s.in_progress = Some(status::InProgress {
                cause: cause.to_string(),
                since: status::now(),
            })
        });
        InProgressGuard { reloader }
    }
}

impl Drop for InProgressGuard<'_> {
    fn drop(&mut self) {
        self.reloader.with_status(|s| s.in_progress = None);
    }
}
