//! Test configurations as typed values, rendered to the TOML the proxy
//! reads. A test changes a field by name (`lab.plugin_mut("https-redirect")`),
//! so a change that no longer applies fails to compile or panics, where
//! patching TOML text with `.replace(…)` silently did nothing.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A whole configuration file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProxyConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<Global>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<Admin>,
    #[serde(rename = "listener", skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Listener>,
    #[serde(rename = "backend", skip_serializing_if = "BTreeMap::is_empty")]
    pub backends: BTreeMap<String, Backend>,
    #[serde(rename = "plugin", skip_serializing_if = "BTreeMap::is_empty")]
    pub plugins: BTreeMap<String, Plugin>,
}

/// `[global]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Global {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tunnels: Option<usize>,
}

/// `[admin]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Admin {
    pub bind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `[[listener]]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listener {
    pub name: String,
    pub bind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_read_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_header_bytes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_headers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_max_streams: Option<u32>,
}

/// A listener's `tls = { … }`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<Certificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2: Option<bool>,
}

/// One of `tls.certificates`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Certificate {
    pub cert: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// `[backend.NAME]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Backend {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balancer: Option<String>,
    pub servers: Vec<Server>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<toml::Table>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passive_health: Option<toml::Table>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<toml::Table>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub h2_max_streams: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel_idle_timeout: Option<String>,
}

/// One of a backend's `servers`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Server {
    pub name: String,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// `[plugin.NAME]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plugin {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub config: toml::Table,
}

impl ProxyConfig {
    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a test configuration renders as TOML")
    }

    /// Writes it as `dir/switchyard.toml`; the path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join("switchyard.toml");
        std::fs::write(&path, self.to_toml()).expect("write the configuration");
        path
    }

    pub fn listener_mut(&mut self, name: &str) -> &mut Listener {
        self.listeners
            .iter_mut()
            .find(|l| l.name == name)
            .unwrap_or_else(|| panic!("the test configuration has no listener {name:?}"))
    }

    pub fn backend_mut(&mut self, name: &str) -> &mut Backend {
        self.backends
            .get_mut(name)
            .unwrap_or_else(|| panic!("the test configuration has no backend {name:?}"))
    }

    pub fn plugin_mut(&mut self, name: &str) -> &mut Plugin {
        self.plugins
            .get_mut(name)
            .unwrap_or_else(|| panic!("the test configuration has no plugin {name:?}"))
    }
}

impl Listener {
    /// A plain listener on a free loopback port.
    pub fn plain(name: &str) -> Listener {
        Listener {
            name: name.into(),
            bind: super::ANY_PORT.into(),
            ..Listener::default()
        }
    }

    /// A TLS listener on a free loopback port, serving `cert`.
    pub fn tls(name: &str, cert: &Path) -> Listener {
        Listener {
            tls: Some(Tls {
                cert: Some(cert.to_path_buf()),
                ..Tls::default()
            }),
            ..Listener::plain(name)
        }
    }

    pub fn plugins(mut self, plugins: &[&str]) -> Listener {
        self.plugins = plugins.iter().map(|p| p.to_string()).collect();
        self
    }

    pub fn default_backend(mut self, backend: &str) -> Listener {
        self.default_backend = Some(backend.into());
        self
    }
}

impl Backend {
    /// A backend of these servers (name, address).
    pub fn of(servers: &[(&str, SocketAddr)]) -> Backend {
        Backend {
            servers: servers
                .iter()
                .map(|(name, address)| Server {
                    name: name.to_string(),
                    address: address.to_string(),
                    weight: None,
                })
                .collect(),
            ..Backend::default()
        }
    }

    pub fn server_mut(&mut self, name: &str) -> &mut Server {
        self.servers
            .iter_mut()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("the test backend has no server {name:?}"))
    }
}

impl Plugin {
    /// `source = "builtin:NAME"`.
    pub fn builtin(name: &str) -> Plugin {
        Plugin {
            source: format!("builtin:{name}"),
            ..Plugin::default()
        }
    }

    /// One of the plugin's own settings.
    pub fn set(mut self, key: &str, value: impl Into<toml::Value>) -> Plugin {
        self.config.insert(key.into(), value.into());
        self
    }
}

/// A `{ key = value, … }` table for the fields typed as tables.
pub fn table<const N: usize>(entries: [(&str, toml::Value); N]) -> toml::Table {
    entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
