//! The configuration file as written: serde types that mirror the TOML
//! one to one, with spans kept on every field that validation may need to
//! point at. Nothing here is checked beyond its TOML type; `validate.rs`
//! turns these into the domain types of `mod.rs`.

use serde::Deserialize;
use toml::Spanned;

/// `[global]`: process-wide settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalFile {
    /// Worker threads (default: one per CPU).
    pub workers: Option<Spanned<usize>>,
    /// Reload on file changes (default true).
    pub watch: Option<bool>,
    /// Open client connections, all listeners together.
    pub max_connections: Option<Spanned<usize>>,
    /// Requests being handled at once; more get 503.
    pub max_in_flight: Option<Spanned<usize>>,
    /// How long shutdown waits for open connections.
    pub shutdown_grace: Option<Spanned<String>>,
    /// How long SIGTERM keeps accepting while `/health` says not ready.
    pub handover_delay: Option<Spanned<String>>,
    /// Upgraded connections (WebSocket tunnels) open at once.
    pub max_tunnels: Option<Spanned<usize>>,
    /// Where compiled plugins are cached, or "off".
    pub plugin_cache: Option<Spanned<String>>,
    /// A tracing filter: "info", "debug", "switchyard=debug,info".
    pub log_level: Option<Spanned<String>>,
}

/// `[admin]`: the admin endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    /// Default 127.0.0.1:9901.
    pub bind: Option<Spanned<String>>,
    /// Bearer token every request must carry; required off loopback.
    pub token: Option<Spanned<String>>,
}

/// `[access_log]`: one line per request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLogFile {
    /// "text" (default) or "json".
    pub format: Option<Spanned<String>>,
    /// A file (appended to), or "-" for standard output (default).
    pub path: Option<Spanned<String>>,
    /// Lines queued for the writer before new ones are dropped.
    pub buffer: Option<Spanned<usize>>,
}

/// `[[listener]]`: an address the proxy accepts connections on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    pub name: Spanned<String>,
    pub bind: Spanned<String>,
    pub tls: Option<TlsFile>,
    #[serde(default)]
    pub plugins: Vec<Spanned<String>>,
    pub default_backend: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<usize>>,
    pub header_read_timeout: Option<Spanned<String>>,
    pub max_header_bytes: Option<Spanned<String>>,
    pub max_headers: Option<Spanned<usize>>,
    pub max_body: Option<Spanned<String>>,
    pub h2_max_streams: Option<Spanned<u32>>,
    /// How request paths are normalised before plugins see them.
    pub normalize_path: Option<NormalizePathFile>,
}

/// `normalize_path = { ... }` of a listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizePathFile {
    /// Normalise at all (default true).
    pub enabled: Option<bool>,
    /// Merge repeated slashes (default true).
    pub merge_slashes: Option<bool>,
    /// `"keep"` (default), `"refuse"` or `"decode"` for `%2F`.
    pub escaped_slashes: Option<Spanned<String>>,
    /// Lower-case the path (default false), for servers that ignore case.
    pub lowercase: Option<bool>,
    /// `"forward"` (default: the normalised path) or `"refuse"` (400) when
    /// normalising changes a path.
    pub on_change: Option<Spanned<String>>,
}
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// The certificate chain, or one PEM holding chain and key as HAProxy
    /// takes it (one certificate; `certificates` for several).
    pub cert: Option<Spanned<String>>,
    /// The private key, when not in `cert`.
    pub key: Option<Spanned<String>>,
    /// Several certificates, chosen by SNI (the first is the default).
    #[serde(default)]
    pub certificates: Vec<CertificateFile>,
    /// `"default"` (the first certificate) or `"refuse"`: what a client
    /// that sends no SNI name, or an unknown one, gets.
    pub unknown_name: Option<Spanned<String>>,
    /// `"1.2"` (default) or `"1.3"`.
    pub min_version: Option<Spanned<String>>,
    /// Offer HTTP/2 by ALPN (default true).
    pub http2: Option<bool>,
}

/// One of `tls.certificates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFile {
    /// The chain, or chain and key in one PEM.
    pub cert: Spanned<String>,
    /// The private key, when not in `cert`.
    pub key: Option<Spanned<String>>,
}

/// `[backend.NAME]`: a group of servers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendFile {
    pub balancer: Option<Spanned<String>>,
    pub servers: Spanned<Vec<ServerFile>>,
    pub health_check: Option<HealthCheckFile>,
    pub connect_timeout: Option<Spanned<String>>,
    pub response_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub retries: Option<Spanned<u32>>,
    pub max_idle_per_server: Option<Spanned<usize>>,
    pub passive_health: Option<PassiveHealthFile>,
    pub retry_budget: Option<RetryBudgetFile>,
    /// Where requests go when no server of this backend can take them.
    pub fallback_backend: Option<Spanned<String>>,
    /// A request-hook plugin that answers when no server can.
    pub fallback_plugin: Option<Spanned<String>>,
    /// `http1` (default), `h2` (over TLS), `h2c` (cleartext, prior
    /// knowledge) or `auto` (ALPN chooses; HTTP/1.1 without TLS).
    pub protocol: Option<Spanned<String>>,
    /// TLS to the servers.
    pub tls: Option<Spanned<UpstreamTlsFile>>,
    /// Concurrent streams per HTTP/2 connection to a server.
    pub h2_max_streams: Option<Spanned<u32>>,
    /// How long an upgraded connection (WebSocket) may stay silent.
    pub tunnel_idle_timeout: Option<Spanned<String>>,
}

/// `tls = { ... }` of a backend: how the proxy speaks TLS to its servers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsFile {
    /// PEM file of the CAs to trust (default: the system's roots).
    pub ca: Option<Spanned<String>>,
    /// The name to send by SNI and verify (default: the server's host).
    pub server_name: Option<Spanned<String>>,
    /// A client certificate chain (mutual TLS), with `client_key`.
    pub client_cert: Option<Spanned<String>>,
    pub client_key: Option<Spanned<String>>,
    /// Skips verifying the server's certificate (logged at every load).
    pub insecure_skip_verify: Option<bool>,
}

/// `passive_health = { ... }` of a backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveHealthFile {
    pub failures: Option<Spanned<u32>>,
    pub on_5xx: Option<bool>,
    pub cooldown: Option<Spanned<String>>,
    /// Below this share of servers up, those down by passive health alone
    /// are tried anyway.
    pub panic_threshold: Option<Spanned<f64>>,
}

/// `retry_budget = { ... }` of a backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBudgetFile {
    pub ratio: Option<Spanned<f64>>,
    pub min_per_second: Option<Spanned<u32>>,
}

/// One entry of `servers = [...]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub name: Spanned<String>,
    pub address: Spanned<String>,
    pub weight: Option<Spanned<u32>>,
}

/// `health_check = { ... }` of a backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckFile {
    pub method: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub expect_status: Option<Spanned<u16>>,
    pub interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub rise: Option<Spanned<u32>>,
    pub fall: Option<Spanned<u32>>,
}

/// `[plugin.NAME]`: a Wasm component and its settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginFile {
    /// `builtin:NAME` or a path to a `.wasm` component (relative to the
    /// configuration file).
    pub source: Spanned<String>,
    pub on_error: Option<Spanned<FailurePolicyFile>>,
    pub error_status: Option<Spanned<u16>>,
    pub timeout: Option<Spanned<String>>,
    pub memory_limit: Option<Spanned<String>>,
    pub max_calls_per_instance: Option<Spanned<u64>>,
    /// Idle instances kept warm (memory against instantiations).
    pub pool_size: Option<Spanned<usize>>,
    pub state_max_entries: Option<Spanned<usize>>,
    /// `redis://host:port/db`: share the state with other proxies.
    pub state_redis: Option<Spanned<String>>,
    /// How often the state is synchronised with Redis.
    pub state_sync: Option<Spanned<String>>,
    /// Cap on the body bytes the plugin's `body-hook` may ask for.
    pub max_body_buffer: Option<Spanned<String>>,
    /// Longest wait for the reply to an `ask`.
    pub ask_timeout: Option<Spanned<String>>,
    /// Longest reply body an `ask` hands the plugin.
    pub ask_max_body: Option<Spanned<String>>,
    /// Asks one request may make.
    pub max_asks_per_request: Option<Spanned<u32>>,
    /// Handed to the plugin as it is; the plugin checks it in `init`.
    pub config: Option<toml::Table>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicyFile {
    FailClosed,
    FailOpen,
}
