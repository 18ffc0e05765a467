//! What the reloader has done: the current generation, each plugin's
//! version and last error, each certificate, the last reload. Served as
//! JSON by the admin endpoint and printed by `switchyard status`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What the reloader has done; `GET /api/state` and `switchyard status` show it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SwapStatus {
    /// The generation new requests start on.
    pub generation: u64,
    /// The configuration file's path.
    pub config_file: String,
    /// The most recent reload, published or rejected.
    pub last_reload: Option<ReloadRecord>,
    /// A reload being prepared now (plugins compiling), if any.
    #[serde(default)]
    pub in_progress: Option<InProgress>,
    /// Each plugin's version serving now.
    pub plugins: Vec<PluginStatus>,
    /// Each TLS listener's certificate.
    pub certificates: Vec<CertificateStatus>,
}

/// A reload that has started and not yet ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InProgress {
    /// What started it.
    pub cause: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
}

/// One reload and its outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadRecord {
    /// Seconds since the Unix epoch.
    pub at: u64,
    /// What started it: `start`, `config file`, `plugin file`, `SIGHUP`...
    pub cause: String,
    /// The generation it published, or `None` if it was rejected.
    pub published: Option<u64>,
    /// Why it was rejected: every problem, one per line.
    pub error: Option<String>,
}

/// A plugin's version serving now and its last rejected one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginStatus {
    /// The plugin's name.
    pub name: String,
    /// `builtin:NAME` or the component file.
    pub source: String,
    /// SHA-256 of the component serving now.
    pub hash: String,
    /// The generation that loaded this version.
    pub since_generation: u64,
    /// The last rejected version's error (cleared when a version loads).
    pub last_error: Option<String>,
    /// SHA-256 of the last rejected version's file, as it was read.
    #[serde(default)]
    pub rejected_hash: Option<String>,
}

/// The certificate a TLS listener serves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateStatus {
    /// The listener's name.
    pub listener: String,
    /// Its place among the listener's certificates (0: the default).
    #[serde(default)]
    pub index: usize,
    /// The names it answers for by SNI.
    #[serde(default)]
    pub names: Vec<String>,
    /// SHA-256 of the leaf certificate served now.
    pub fingerprint: String,
    /// The leaf's subject (`CN=...`).
    #[serde(default)]
    pub subject: Option<String>,
    /// When the leaf expires, in seconds since the Unix epoch.
    #[serde(default)]
    pub not_after: Option<i64>,
    /// Why the last replacement was rejected (cleared when one loads).
    pub last_error: Option<String>,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
