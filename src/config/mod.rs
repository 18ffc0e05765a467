//! Configuration: a TOML file turned into validated domain values.
//!
//! `file.rs` mirrors the TOML; `validate.rs` checks it and builds the types
//! below, reporting every problem at once with file, line and field
//! (`error.rs`). Nothing here knows sockets, threads or plugin internals:
//! what is left to check by loading (certificates, plugin components) keeps
//! its [`Position`] so `switchyard check` can point at it.

mod defaults;
mod error;
mod file;
pub(crate) mod units;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::{ConfigError, Problem, ProblemList};
pub use units::{parse_duration, parse_size};

/// The name of the balancer plugin a backend uses when it names none; when
/// the file declares no plugin of that name, `builtin:round-robin` is used.
pub const DEFAULT_BALANCER: &str = "round-robin";

/// The name the fail-open fallback balancer runs under (in logs and
/// metrics): `builtin:round-robin`, apart from any plugin of the file.
pub const FALLBACK_BALANCER: &str = "fail-open-round-robin";

/// A whole, valid configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages and relative paths).
    pub file: PathBuf,
    /// Worker threads; `None` means one per CPU.
    pub workers: Option<usize>,
    /// Reload when the configuration, a plugin or a certificate file
    /// changes; when false, only SIGHUP and the admin endpoint reload.
    pub watch: bool,
    /// The admin endpoint, off unless configured.
    pub admin: Option<AdminConfig>,
    /// `[access_log]`, off unless configured (read at start-up only).
    pub access_log: Option<AccessLogConfig>,
    /// `[global] log_level`: a tracing filter (`RUST_LOG` wins; read at
    /// start-up only).
    pub log_level: Option<String>,
    /// Where compiled plugins are kept on disk (read at start-up only).
    pub plugin_cache: CacheSetting,
    /// Process-wide limits (`[global]`).
    pub limits: GlobalLimits,
    /// `[[listener]]` sections, in file order.
    pub listeners: Vec<ListenerConfig>,
    /// `[backend.NAME]` sections.
    pub backends: Vec<BackendConfig>,
    /// `[plugin.NAME]` sections.
    pub plugins: Vec<PluginConfig>,
}

impl Config {
    /// Reads and validates a configuration file. Blocks (file I/O, and
    /// server names are resolved): call it off the runtime, in
    /// `spawn_blocking` or before the runtime starts.
    #[allow(clippy::disallowed_methods)]
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Validates configuration text; `path` names it in problems and anchors
    /// relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        validate::parse(path, text)
    }

    /// The backend named `name`.
    pub fn backend(&self, name: &str) -> Option<&BackendConfig> {
        self.backends.iter().find(|b| b.name == name)
    }

    /// The plugin named `name`.
    pub fn plugin(&self, name: &str) -> Option<&PluginConfig> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// A problem found after validation (while loading a certificate or
    /// compiling a plugin), placed at `at` in this configuration's file.
    pub fn problem_at(&self, at: Position, field: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A place in the configuration file (1-based; 0 when not from a file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

/// Process-wide limits (`[global]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalLimits {
    /// Open client connections, all listeners together; at the limit the
    /// proxy stops accepting (new clients wait in the kernel's queue).
    pub max_connections: usize,
    /// Requests handled at once; more are answered 503 at once.
    pub max_in_flight: usize,
    /// How long shutdown lets open connections finish.
    pub shutdown_grace: Duration,
    /// On SIGTERM, how long the proxy keeps accepting (and answering with
    /// `Connection: close`) while `/health` says it is not ready, before it
    /// stops accepting and drains: time for keepalived or an outer balancer
    /// to move traffic away first (HAProxy's `grace`). Zero: stop at once.
    pub handover_delay: Duration,
    /// Upgraded connections (WebSocket tunnels) open at once; more
    /// upgrades get 503.
    pub max_tunnels: usize,
}

/// `[admin]`: status and control over HTTP, on loopback only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Where the admin endpoint listens.
    pub bind: SocketAddr,
    /// Required as `Authorization: Bearer TOKEN` when set.
    pub token: Option<String>,
}

/// `[[listener]]`: where clients connect.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Names the listener in logs, metrics and the admin API.
    pub name: String,
    /// Where clients connect.
    pub bind: SocketAddr,
    /// `tls = { ... }`; `None` serves plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Request-hook plugins, in the order they run.
    pub plugins: Vec<String>,
    /// Where requests go when every plugin continues.
    pub default_backend: Option<String>,
    /// What the listener accepts from clients.
    pub limits: ListenerLimits,
    /// How request paths are normalised before plugins see them.
    pub normalize_path: PathNormalization,
}

/// A listener's `normalize_path` (see `proxy/path.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathNormalization {
    /// Normalise at all.
    pub enabled: bool,
    /// Merge repeated slashes.
    pub merge_slashes: bool,
    /// What an encoded slash (`%2F`) becomes.
    pub escaped_slashes: EscapedSlashes,
    /// Lower-case the path.
    pub lowercase: bool,
    /// Refuse (400) a path that normalising changes, instead of forwarding
    /// the normalised one.
    pub refuse_changed: bool,
}

impl Default for PathNormalization {
    fn default() -> PathNormalization {
        PathNormalization {
            enabled: true,
            merge_slashes: true,
            escaped_slashes: EscapedSlashes::Keep,
            lowercase: false,
            refuse_changed: false,
        }
    }
}

/// What path normalisation does with `%2F`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscapedSlashes {
    /// Leave it encoded (it is part of a segment).
    Keep,
    /// Refuse the request (400).
    Refuse,
    /// Decode it to `/` (it separates segments, as many servers read it).
    Decode,
}

/// What one listener accepts from clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Open connections on this listener (within the global limit).
    pub max_connections: Option<usize>,
    /// Time a client has to send a request head, counted from when the
    /// connection is ready for one, so it is also the keep-alive idle
    /// timeout of HTTP/1.1; past it the connection is closed.
    pub header_read_timeout: Duration,
    /// Size of an HTTP/1.1 request head, or of an HTTP/2 header list;
    /// larger gets 431.
    pub max_header_bytes: usize,
    /// Number of header fields (HTTP/1.1); more gets 431.
    pub max_headers: usize,
    /// Request body size; larger gets 413.
    pub max_body: Option<u64>,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_streams: u32,
}

/// `tls = { ... }` of a listener: its certificate and protocols.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// The certificates, chosen by SNI; the first is the default.
    pub certificates: Vec<CertificateConfig>,
    /// What a client with no SNI name, or an unknown one, gets.
    pub unknown_name: UnknownName,
    /// The oldest TLS version accepted.
    pub min_version: TlsVersion,
    /// Offer `h2` by ALPN.
    pub http2: bool,
    /// Where `tls` is written, for problems found while loading it.
    pub at: Position,
}

/// One certificate of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateConfig {
    /// Certificate chain, or one PEM with chain and key (HAProxy style).
    pub cert: PathBuf,
    /// Private key, when not in `cert`.
    pub key: Option<PathBuf>,
    /// Where its `cert` is written, for problems found while loading it.
    pub at: Position,
}

/// What a TLS listener does for a client whose SNI name no certificate
/// covers, or that sends none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownName {
    /// The first certificate.
    Default,
    /// No certificate: the handshake fails.
    Refuse,
}

/// The oldest TLS version a listener accepts (`min_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `"1.2"`: TLS 1.2 and 1.3.
    Tls12,
    /// `"1.3"`: TLS 1.3 only.
    Tls13,
}

/// `[backend.NAME]`: servers that can answer the same requests.
#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// The `NAME` of `[backend.NAME]`, as routes and logs name it.
    pub name: String,
    /// The balancer plugin's name.
    pub balancer: String,
    /// The servers, in file order.
    pub servers: Vec<ServerConfig>,
    /// Active health checks, off unless configured.
    pub health_check: Option<HealthCheckConfig>,
    /// Time allowed to establish a TCP connection to a server.
    pub connect_timeout: Duration,
    /// Time allowed from sending the request to receiving the response head.
    pub response_timeout: Duration,
    /// How long an unused pooled connection is kept.
    pub idle_timeout: Duration,
    /// Further servers tried when a connection cannot be made, or when an
    /// idempotent request without a body gets no response.
    pub retries: u32,
    /// Idle pooled connections kept per server.
    pub max_idle_per_server: usize,
    /// Marking servers down from live traffic, before active checks do.
    pub passive_health: PassiveHealthConfig,
    /// How many retries the backend allows.
    pub retry_budget: RetryBudgetConfig,
    /// What answers when no server of the backend can.
    pub fallback: Option<Fallback>,
    /// The HTTP version spoken to the servers.
    pub protocol: UpstreamProtocol,
    /// TLS to the servers, when they speak it.
    pub tls: Option<UpstreamTlsConfig>,
    /// Streams opened at once on one HTTP/2 connection to a server; past
    /// it a new connection is opened (keep it at or below the servers'
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`).
    pub h2_max_streams: u32,
    /// How long a tunnel (an upgraded connection) may carry no byte either
    /// way before it is closed.
    pub tunnel_idle_timeout: Duration,
}

/// The HTTP version a backend's servers are spoken to in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 (ALPN `http/1.1` over TLS).
    Http1,
    /// HTTP/2 over TLS (ALPN `h2`).
    H2,
    /// HTTP/2 in cleartext, with prior knowledge.
    H2c,
    /// Over TLS, whatever ALPN settles (`h2` or `http/1.1`); HTTP/1.1
    /// without TLS.
    Auto,
}

/// A backend's `tls = { ... }`: files are read when the configuration is
/// prepared (`prepare.rs`), so `check` reports them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTlsConfig {
    /// CAs to trust; `None`: the system's roots.
    pub ca: Option<PathBuf>,
    /// Name sent by SNI and verified; `None`: each server's host.
    pub server_name: Option<String>,
    /// Client certificate chain and key, for mutual TLS.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// Accept any certificate (warned about at every load).
    pub insecure_skip_verify: bool,
    /// Where `tls` is written, for problems found while loading it.
    pub at: Position,
}

/// Passive health: real requests' failures count against a server.
#[derive(Debug, Clone, PartialEq)]
pub struct PassiveHealthConfig {
    /// Consecutive failures (no connection; with `on_5xx`, a 5xx answer)
    /// that mark a server down; 0 turns passive health off.
    pub failures: u32,
    /// Count a 5xx answer as a failure too.
    pub on_5xx: bool,
    /// Without active checks, how long a server marked down stays down.
    pub cooldown: Duration,
    /// Envoy's panic threshold: when less than this share of a backend's
    /// servers (maintenance aside) is up, the servers down by passive
    /// health alone are offered to the balancer as up again, so a backend
    /// never locks itself out on the evidence of its own failures. 0: off.
    pub panic_threshold: f64,
}

/// Retries allowed per backend, so retries cannot multiply an outage:
/// `min_per_second` always, plus `ratio` of the requests, over 10 s.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryBudgetConfig {
    /// Share of the requests that may be retried, from 0.0 to 1.0.
    pub ratio: f64,
    /// Retries per second always allowed.
    pub min_per_second: u32,
}

/// Where a request goes when no server of its backend can take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// Another backend (its own fallback is not followed).
    Backend(String),
    /// A request-hook plugin whose `respond` answers the client.
    Plugin(String),
}

/// One server of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Unique within the backend; names the server in logs, metrics and the admin API.
    pub name: String,
    /// Where the server is reached (a host name is resolved on load).
    pub address: SocketAddr,
    /// Relative share of requests balancers give it (0 to 256, default 1).
    pub weight: u32,
    /// The host name it was written with, if not an IP address: the
    /// default TLS server name.
    pub host: Option<String>,
}

/// Active health checks, HAProxy's `option httpchk` with its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckConfig {
    /// Method sent (default `GET`).
    pub method: http::Method,
    /// Path and query sent.
    pub path: String,
    /// `Host` header sent (default: the server's address).
    pub host: Option<String>,
    /// The one status that means healthy; `None` accepts 2xx and 3xx.
    pub expect_status: Option<http::StatusCode>,
    /// Time between two checks.
    pub interval: Duration,
    /// Time a check may take (default: the interval).
    pub timeout: Duration,
    /// Consecutive successes that bring a down server up.
    pub rise: u32,
    /// Consecutive failures that take an up server down.
    pub fall: u32,
}

/// `[plugin.NAME]`.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// The `NAME` of `[plugin.NAME]`, as listeners and backends name it.
    pub name: String,
    /// Where the component comes from.
    pub source: PluginSource,
    /// What a failed call does to the request (`on_error`).
    pub on_error: FailurePolicy,
    /// Deadline of every call into the plugin.
    pub timeout: Duration,
    /// Linear-memory limit of each instance.
    pub memory_limit: usize,
    /// An instance is replaced by a fresh one after this many calls.
    pub max_calls_per_instance: u64,
    /// Idle instances kept for reuse; a call that finds none idle starts
    /// one, which is dropped after the call when the pool is full.
    pub pool_size: usize,
    /// Entries the plugin's shared-state namespace may hold.
    pub state_max_entries: usize,
    /// `state_redis` / `state_sync`: the shared state mirrored in Redis.
    pub state_remote: Option<RemoteConfig>,
    /// Cap on the request body a `body-hook` may have buffered.
    pub max_body_buffer: usize,
    /// Asks: their timeout, reply body limit and number per request.
    pub asks: AskLimits,
    /// The plugin's own settings, handed over as they are.
    pub settings: toml::Table,
    /// Where `source` is written, for problems found while compiling.
    pub at: Position,
}

impl PluginConfig {
    /// A builtin plugin with every setting at its default.
    pub fn builtin(name: &str) -> PluginConfig {
        PluginConfig {
            name: name.to_string(),
            source: PluginSource::Builtin(name.to_string()),
            on_error: FailurePolicy::Closed {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
            },
            timeout: defaults::PLUGIN_TIMEOUT,
            memory_limit: defaults::PLUGIN_MEMORY,
            max_calls_per_instance: defaults::PLUGIN_MAX_CALLS,
            pool_size: defaults::PLUGIN_POOL_SIZE,
            state_max_entries: defaults::PLUGIN_STATE_ENTRIES,
            state_remote: None,
            max_body_buffer: defaults::PLUGIN_MAX_BODY_BUFFER,
            asks: AskLimits::default(),
            settings: toml::Table::new(),
            at: Position::default(),
        }
    }

    /// The builtin round-robin that stands in for a fail-open balancer
    /// whose call failed (named apart from any plugin of the file).
    pub fn fallback_balancer() -> PluginConfig {
        PluginConfig {
            name: FALLBACK_BALANCER.to_string(),
            source: PluginSource::Builtin(DEFAULT_BALANCER.to_string()),
            ..PluginConfig::builtin(DEFAULT_BALANCER)
        }
    }

    /// Whether a plugin loaded with `other` would behave the same as with
    /// this (everything but the position in the file).
    pub fn same_runtime(&self, other: &PluginConfig) -> bool {
        self.name == other.name
            && self.source == other.source
            && self.on_error == other.on_error
            && self.timeout == other.timeout
            && self.memory_limit == other.memory_limit
            && self.max_calls_per_instance == other.max_calls_per_instance
            && self.pool_size == other.pool_size
            && self.state_max_entries == other.state_max_entries
            && self.state_remote == other.state_remote
            && self.max_body_buffer == other.max_body_buffer
            && self.asks == other.asks
            && self.settings == other.settings
    }
}

/// What a plugin's asks may cost (`ask_timeout`, `ask_max_body`,
/// `max_asks_per_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AskLimits {
    /// The longest wait for a whole reply.
    pub timeout: Duration,
    /// Reply body bytes handed to the plugin (the rest is cut).
    pub max_body: usize,
    /// Asks one request may make.
    pub per_request: u32,
}

impl Default for AskLimits {
    fn default() -> AskLimits {
        AskLimits {
            timeout: defaults::PLUGIN_ASK_TIMEOUT,
            max_body: defaults::PLUGIN_ASK_MAX_BODY,
            per_request: defaults::PLUGIN_MAX_ASKS,
        }
    }
}

/// `state_redis` and `state_sync` of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// How often the local namespace and Redis are synchronised.
    pub sync_interval: Duration,
}

/// `[global] plugin_cache`: where compiled components are kept, if
/// anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheSetting {
    /// `$SWITCHYARD_CACHE_DIR`, else `$XDG_CACHE_HOME/switchyard`, else
    /// `$HOME/.cache/switchyard`; off when none is set or the variable
    /// says `off`.
    #[default]
    Default,
    /// `"off"`.
    Off,
    /// A directory.
    Dir(PathBuf),
}

/// `[access_log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogConfig {
    /// Text or JSON lines.
    pub format: AccessLogFormat,
    /// `None`: standard output.
    pub path: Option<PathBuf>,
    /// Entries waiting for the writer before new ones are dropped.
    pub buffer: usize,
}

/// How access-log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// `TIME CLIENT LISTENER "METHOD TARGET VERSION" STATUS BYTES MS BACKEND SERVER PLUGIN ID BLAME`
    Text,
    /// One JSON object per line.
    Json,
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the binary: `builtin:NAME`.
    Builtin(String),
    /// A component file.
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin(name) => write!(f, "builtin:{name}"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What a failed plugin call (trap, deadline, memory limit) does to the
/// request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Answer with this 5xx status.
    Closed {
        /// `error_status`, a 5xx (default 503).
        status: http::StatusCode,
    },
    /// Carry on as if the plugin had said `continue` (or, for a balancer,
    /// as if it were absent: the healthy servers in rotation).
    Open,
}
