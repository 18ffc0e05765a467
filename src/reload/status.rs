//! What the reloader has done: the current generation, each plugin's
//! version and last error, each certificate, the last reload. Served as
//! JSON by the admin endpoint and printed by `switchyard status`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SwapStatus {
    /// The generation new requests start on.
    pub generation: u64,
    pub config_file: String,
    pub last_reload: Option<ReloadRecord>,
    pub plugins: Vec<PluginStatus>,
    pub certificates: Vec<CertificateStatus>,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginStatus {
    pub name: String,
    pub source: String,
    /// SHA-256 of the component serving now.
    pub hash: String,
    /// The generation that loaded this version.
    pub since_generation: u64,
    /// The last rejected version's error (cleared when a version loads).
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateStatus {
    pub listener: String,
    /// SHA-256 of the leaf certificate served now.
    pub fingerprint: String,
    /// The leaf's subject (`CN=...`).
    #[serde(default)]
    pub subject: Option<String>,
    /// When the leaf expires, in seconds since the Unix epoch.
    #[serde(default)]
    pub not_after: Option<i64>,
    pub last_error: Option<String>,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
