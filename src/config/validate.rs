//! From TOML text to a [`Config`]: parse with error recovery, decode each
//! section on its own (so one bad entry does not hide the others), then check
//! every value and reference. All problems are collected and returned
//! together.

use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::error::{line_column, ConfigError, Problems};
use super::file::*;
use super::units::{parse_duration, parse_size};
use super::*;

use super::defaults::*;

/// The sections as decoded, before cross-checks.
#[derive(Default)]
struct Document {
    global: GlobalFile,
    admin: Option<AdminFile>,
    access_log: Option<AccessLogFile>,
    /// With their index in the file (a listener that failed to decode
    /// keeps its number).
    listeners: Vec<(usize, ListenerFile)>,
    backends: Vec<(Spanned<String>, BackendFile)>,
    plugins: Vec<(Spanned<String>, PluginFile)>,
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let mut problems = Problems::new(path, text);
    let (root, syntax) = DeTable::parse_recoverable(text);
    for error in &syntax {
        problems.at(error.span().map(|s| s.start), "", error.message().trim());
    }
    if !problems.is_empty() {
        return Err(problems.into_error());
    }
    let document = decode_sections(root.into_inner(), &mut problems);
    let base = path.parent().unwrap_or(Path::new("."));
    let config = Checker {
        problems: &mut problems,
        base,
    }
    .config(path, document);
    problems.into_result(config)
}

fn decode_sections(root: DeTable<'_>, problems: &mut Problems<'_>) -> Document {
    let mut document = Document::default();
    for (key, value) in root {
        let section = key.get_ref().to_string();
        let at = Some(key.span().start);
        match section.as_str() {
            "global" => {
                if let Some(global) = decode::<GlobalFile>(value, "global", problems) {
                    document.global = global;
                }
            }
            "admin" => document.admin = decode::<AdminFile>(value, "admin", problems),
            "access_log" => document.access_log = decode::<AccessLogFile>(value, "access_log", problems),
            "listener" => match value.into_inner() {
                DeValue::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        if let Some(l) = decode::<ListenerFile>(item, &format!("listener[{i}]"), problems) {
                            document.listeners.push((i, l));
                        }
                    }
                }
                _ => problems.at(at, "listener", "write each listener as a [[listener]] table"),
            },
            "backend" | "plugin" => {
                let DeValue::Table(entries) = value.into_inner() else {
                    problems.at(
                        at,
                        &section,
                        format!("write each {section} as a [{section}.NAME] table"),
                    );
                    continue;
                };
                for (name, entry) in entries {
                    let field = format!("{section}.{}", name.get_ref());
                    let name = Spanned::new(name.span(), name.get_ref().to_string());
                    if section == "backend" {
                        if let Some(b) = decode::<BackendFile>(entry, &field, problems) {
                            document.backends.push((name, b));
                        }
                    } else if let Some(p) = decode::<PluginFile>(entry, &field, problems) {
                        document.plugins.push((name, p));
                    }
                }
            }
            other => problems.at(
                at,
                other,
                "unknown section; expected [global], [admin], [access_log], [[listener]], [backend.NAME] or [plugin.NAME]",
            ),
        }
    }
    document
}

fn decode<T: DeserializeOwned>(value: Spanned<DeValue<'_>>, field: &str, problems: &mut Problems<'_>) -> Option<T> {
    let start = value.span().start;
    match T::deserialize(ValueDeserializer::from(value)) {
        Ok(decoded) => Some(decoded),
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(start);
            problems.at(Some(at), field, e.message().trim());
            None
        }
    }
}

struct Checker<'p, 'a> {
    problems: &'p mut Problems<'a>,
    base: &'a Path,
}

impl Checker<'_, '_> {
    fn config(&mut self, path: &Path, doc: Document) -> Config {
        let backend_names: Vec<&str> = doc.backends.iter().map(|(n, _)| n.get_ref().as_str()).collect();
        let plugin_names: Vec<&str> = doc.plugins.iter().map(|(n, _)| n.get_ref().as_str()).collect();
        let workers = doc.global.workers.as_ref().and_then(|w| {
            let ok = *w.get_ref() >= 1;
            self.check(ok, w, "global.workers", "must be at least 1")
                .then_some(*w.get_ref())
        });
        let admin = doc.admin.as_ref().and_then(|a| self.admin(a));
        let access_log = doc.access_log.as_ref().map(|a| self.access_log(a));
        let limits = self.global_limits(&doc.global);
        let listeners = self.listeners(&doc.listeners, &backend_names, &plugin_names);
        let backends = doc
            .backends
            .iter()
            .map(|(name, b)| self.backend(name, b, &backend_names, &plugin_names))
            .collect();
        let mut plugins: Vec<PluginConfig> = doc.plugins.iter().map(|(n, p)| self.plugin(n, p)).collect();
        let uses_default_balancer = doc.backends.iter().any(|(_, b)| b.balancer.is_none());
        if uses_default_balancer && !plugin_names.contains(&DEFAULT_BALANCER) {
            plugins.push(PluginConfig::builtin(DEFAULT_BALANCER));
        }
        Config {
            file: path.to_path_buf(),
            workers,
            watch: doc.global.watch.unwrap_or(true),
            admin,
            access_log,
            plugin_cache: self.plugin_cache(&doc.global.plugin_cache),
            log_level: doc.global.log_level.as_ref().map(|level| {
                let valid = tracing_subscriber::EnvFilter::try_new(level.get_ref()).is_ok();
                self.check(
                    valid,
                    level,
                    "global.log_level",
                    "must be a level or a filter (\"info\", \"debug\", \"switchyard=debug,info\")",
                );
                level.get_ref().clone()
            }),
            limits,
            listeners,
            backends,
            plugins,
        }
    }

    fn listeners(
        &mut self,
        files: &[(usize, ListenerFile)],
        backends: &[&str],
        plugins: &[&str],
    ) -> Vec<ListenerConfig> {
        let mut names = HashSet::new();
        let mut binds = HashSet::new();
        let mut out = Vec::new();
        for (i, l) in files {
            let field = format!("listener[{i}]");
            let name = l.name.get_ref().clone();
            self.check(!name.is_empty(), &l.name, &format!("{field}.name"), "must not be empty");
            self.check(
                names.insert(name.clone()),
                &l.name,
                &format!("{field}.name"),
                format!("\"{name}\" is used by another listener"),
            );
            let bind = self.bind(&l.bind, &format!("{field}.bind"));
            // Port 0 asks the system for a free port: never a clash.
            if let Some(bind) = bind.filter(|b| b.port() != 0) {
                self.check(
                    binds.insert(bind),
                    &l.bind,
                    &format!("{field}.bind"),
                    format!("{bind} is bound by another listener"),
                );
            }
            for (j, p) in l.plugins.iter().enumerate() {
                self.reference(p, plugins, "plugin", &format!("{field}.plugins[{j}]"));
            }
            if let Some(b) = &l.default_backend {
                self.reference(b, backends, "backend", &format!("{field}.default_backend"));
            } else if l.plugins.is_empty() {
                self.problems.at(
                    Some(l.name.span().start),
                    &field,
                    "has neither plugins nor a default_backend: it could only answer 503",
                );
            }
            let tls = l.tls.as_ref().map(|t| self.tls(t, &format!("{field}.tls")));
            if let Some(bind) = bind {
                out.push(ListenerConfig {
                    name,
                    bind,
                    tls: tls.flatten(),
                    plugins: l.plugins.iter().map(|p| p.get_ref().clone()).collect(),
                    default_backend: l.default_backend.as_ref().map(|b| b.get_ref().clone()),
                    limits: self.listener_limits(l, &field),
                });
            }
        }
        out
    }

    fn state_remote(&mut self, p: &PluginFile, field: &str) -> Option<RemoteConfig> {
        let sync_interval = self.duration(&p.state_sync, &format!("{field}.state_sync"), PLUGIN_STATE_SYNC);
        if let Some(s) = &p.state_sync {
            let sane = sync_interval >= Duration::from_millis(1) && sync_interval <= Duration::from_secs(10);
            self.check(sane, s, &format!("{field}.state_sync"), "must be from 1ms to 10s");
        }
        let url = p.state_redis.as_ref()?;
        let valid = redis::Client::open(url.get_ref().as_str());
        if let Err(e) = &valid {
            self.check(
                false,
                url,
                &format!("{field}.state_redis"),
                format!("not a Redis URL: {e}"),
            );
        }
        valid.ok().map(|_| RemoteConfig {
            url: url.get_ref().clone(),
            sync_interval,
        })
    }

    fn plugin_cache(&mut self, setting: &Option<Spanned<String>>) -> CacheSetting {
        match setting.as_ref().map(|s| s.get_ref().as_str()) {
            None => CacheSetting::Default,
            Some("off") => CacheSetting::Off,
            Some(dir) => {
                let ok = !dir.is_empty();
                if let Some(s) = setting {
                    self.check(ok, s, "global.plugin_cache", "must be a directory or \"off\"");
                }
                CacheSetting::Dir(self.base.join(dir))
            }
        }
    }

    fn global_limits(&mut self, g: &GlobalFile) -> GlobalLimits {
        GlobalLimits {
            max_connections: self.at_least_one(&g.max_connections, "global.max_connections", MAX_CONNECTIONS),
            max_in_flight: self.at_least_one(&g.max_in_flight, "global.max_in_flight", MAX_IN_FLIGHT),
            shutdown_grace: self.duration(&g.shutdown_grace, "global.shutdown_grace", SHUTDOWN_GRACE),
        }
    }

    fn listener_limits(&mut self, l: &ListenerFile, field: &str) -> ListenerLimits {
        let max_header_bytes = self
            .size(&l.max_header_bytes, &format!("{field}.max_header_bytes"))
            .unwrap_or(MAX_HEADER_BYTES);
        if let Some(v) = &l.max_header_bytes {
            // hyper's read buffer cannot be smaller than 8 KiB.
            let ok = (8 << 10..=1 << 20).contains(&max_header_bytes);
            self.check(ok, v, &format!("{field}.max_header_bytes"), "must be from 8KiB to 1MiB");
        }
        ListenerLimits {
            max_connections: l.max_connections.as_ref().map(|m| {
                self.check(
                    *m.get_ref() >= 1,
                    m,
                    &format!("{field}.max_connections"),
                    "must be at least 1",
                );
                (*m.get_ref()).max(1)
            }),
            header_read_timeout: self.duration(
                &l.header_read_timeout,
                &format!("{field}.header_read_timeout"),
                HEADER_READ_TIMEOUT,
            ),
            max_header_bytes: max_header_bytes.clamp(8 << 10, 1 << 20),
            max_headers: self.at_least_one(&l.max_headers, &format!("{field}.max_headers"), MAX_HEADERS),
            max_body: self.size(&l.max_body, &format!("{field}.max_body")).map(|b| b as u64),
            h2_max_streams: l.h2_max_streams.as_ref().map_or(H2_MAX_STREAMS, |m| {
                self.check(
                    *m.get_ref() >= 1,
                    m,
                    &format!("{field}.h2_max_streams"),
                    "must be at least 1",
                );
                (*m.get_ref()).max(1)
            }),
        }
    }

    fn at_least_one(&mut self, value: &Option<Spanned<usize>>, field: &str, default: usize) -> usize {
        match value {
            None => default,
            Some(v) => {
                self.check(*v.get_ref() >= 1, v, field, "must be at least 1");
                (*v.get_ref()).max(1)
            }
        }
    }

    fn size(&mut self, value: &Option<Spanned<String>>, field: &str) -> Option<usize> {
        let v = value.as_ref()?;
        match parse_size(v.get_ref()) {
            Ok(size) => Some(size),
            Err(e) => {
                self.problems.at(Some(v.span().start), field, e);
                None
            }
        }
    }

    fn passive_health(&mut self, p: Option<&PassiveHealthFile>, field: &str) -> PassiveHealthConfig {
        PassiveHealthConfig {
            failures: p
                .and_then(|p| p.failures.as_ref())
                .map_or(PASSIVE_FAILURES, |f| *f.get_ref()),
            on_5xx: p.and_then(|p| p.on_5xx).unwrap_or(false),
            cooldown: self.duration(
                &p.and_then(|p| p.cooldown.clone()),
                &format!("{field}.passive_health.cooldown"),
                PASSIVE_COOLDOWN,
            ),
        }
    }

    fn retry_budget(&mut self, r: Option<&RetryBudgetFile>, field: &str) -> RetryBudgetConfig {
        let ratio = match r.and_then(|r| r.ratio.as_ref()) {
            None => RETRY_RATIO,
            Some(v) => {
                let ok = (0.0..=1.0).contains(v.get_ref());
                self.check(ok, v, &format!("{field}.retry_budget.ratio"), "must be from 0.0 to 1.0");
                v.get_ref().clamp(0.0, 1.0)
            }
        };
        RetryBudgetConfig {
            ratio,
            min_per_second: r
                .and_then(|r| r.min_per_second.as_ref())
                .map_or(RETRY_MIN_PER_SECOND, |m| *m.get_ref()),
        }
    }

    fn fallback(&mut self, b: &BackendFile, field: &str, backends: &[&str], plugins: &[&str]) -> Option<Fallback> {
        match (&b.fallback_backend, &b.fallback_plugin) {
            (Some(_), Some(p)) => {
                self.problems.at(
                    Some(p.span().start),
                    format!("{field}.fallback_plugin"),
                    "set fallback_backend or fallback_plugin, not both",
                );
                None
            }
            (Some(backend), None) => {
                self.reference(backend, backends, "backend", &format!("{field}.fallback_backend"));
                Some(Fallback::Backend(backend.get_ref().clone()))
            }
            (None, Some(plugin)) => {
                self.reference(plugin, plugins, "plugin", &format!("{field}.fallback_plugin"));
                Some(Fallback::Plugin(plugin.get_ref().clone()))
            }
            (None, None) => None,
        }
    }

    fn admin(&mut self, admin: &AdminFile) -> Option<AdminConfig> {
        let bind = admin
            .bind
            .as_ref()
            .map_or(Some(SocketAddr::from(([127, 0, 0, 1], 9901))), |b| {
                self.bind(b, "admin.bind")
            })?;
        let token = admin.token.as_ref().map(|t| t.get_ref().clone());
        if let Some(t) = &admin.token {
            self.check(
                t.get_ref().len() >= 16,
                t,
                "admin.token",
                "must be at least 16 characters (e.g. from `openssl rand -hex 16`)",
            );
        }
        // Without a token, the admin endpoint stays on loopback.
        if let (Some(b), None) = (&admin.bind, &token) {
            let ok = self.check(
                bind.ip().is_loopback(),
                b,
                "admin.bind",
                "a non-loopback address needs a token (admin.token); without one use e.g. \"127.0.0.1:9901\"",
            );
            if !ok {
                return None;
            }
        }
        Some(AdminConfig { bind, token })
    }

    fn access_log(&mut self, log: &AccessLogFile) -> AccessLogConfig {
        let format = match log.format.as_ref().map(|f| f.get_ref().as_str()) {
            None | Some("text") => AccessLogFormat::Text,
            Some("json") => AccessLogFormat::Json,
            Some(_) => {
                if let Some(f) = &log.format {
                    self.check(false, f, "access_log.format", "must be \"text\" or \"json\"");
                }
                AccessLogFormat::Text
            }
        };
        let path = match log.path.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("-") => None,
            Some(p) => Some(self.base.join(p)),
        };
        AccessLogConfig {
            format,
            path,
            buffer: self.at_least_one(&log.buffer, "access_log.buffer", 8192),
        }
    }

    fn bind(&mut self, bind: &Spanned<String>, field: &str) -> Option<SocketAddr> {
        let text = bind.get_ref();
        // HAProxy writes "*:80" and ":80" for every IPv4 address.
        let normalized = match text.strip_prefix("*:").or_else(|| text.strip_prefix(':')) {
            Some(port) => format!("0.0.0.0:{port}"),
            None => text.clone(),
        };
        match normalized.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.problems.at(
                    Some(bind.span().start),
                    field,
                    format!("\"{text}\" is not an address; write e.g. \"0.0.0.0:80\", \"[::]:443\" or \"*:80\""),
                );
                None
            }
        }
    }

    fn tls(&mut self, t: &TlsFile, field: &str) -> Option<TlsConfig> {
        let cert = self.existing_file(&t.cert, &format!("{field}.cert"));
        let key = t.key.as_ref().map(|k| self.existing_file(k, &format!("{field}.key")));
        let min_version = match t.min_version.as_ref().map(|v| (v, v.get_ref().as_str())) {
            None | Some((_, "1.2")) => Some(TlsVersion::Tls12),
            Some((_, "1.3")) => Some(TlsVersion::Tls13),
            Some((v, other)) => {
                self.problems.at(
                    Some(v.span().start),
                    format!("{field}.min_version"),
                    format!("\"{other}\": expected \"1.2\" or \"1.3\""),
                );
                None
            }
        };
        let (line, column) = self.line_column(t.cert.span().start);
        Some(TlsConfig {
            cert: cert?,
            key: match key {
                Some(k) => Some(k?),
                None => None,
            },
            min_version: min_version?,
            http2: t.http2.unwrap_or(true),
            at: Position { line, column },
        })
    }

    fn backend(
        &mut self,
        name: &Spanned<String>,
        b: &BackendFile,
        backends: &[&str],
        plugins: &[&str],
    ) -> BackendConfig {
        let field = format!("backend.{}", name.get_ref());
        let balancer = match &b.balancer {
            Some(p) => {
                self.reference(p, plugins, "plugin", &format!("{field}.balancer"));
                p.get_ref().clone()
            }
            None => DEFAULT_BALANCER.to_string(),
        };
        self.check(
            !b.servers.get_ref().is_empty(),
            &b.servers,
            &format!("{field}.servers"),
            "a backend needs at least one server",
        );
        let mut server_names = HashSet::new();
        let mut servers = Vec::new();
        for (i, s) in b.servers.get_ref().iter().enumerate() {
            let sfield = format!("{field}.servers[{i}]");
            let unique = server_names.insert(s.name.get_ref().clone());
            self.check(
                unique,
                &s.name,
                &format!("{sfield}.name"),
                format!("\"{}\" is used by another server of this backend", s.name.get_ref()),
            );
            let weight = s.weight.as_ref().map(|w| *w.get_ref()).unwrap_or(1);
            if let Some(w) = &s.weight {
                self.check(
                    weight <= MAX_WEIGHT,
                    w,
                    &format!("{sfield}.weight"),
                    format!("must be from 0 to {MAX_WEIGHT}"),
                );
            }
            if let Some(address) = self.server_address(&s.address, &format!("{sfield}.address")) {
                servers.push(ServerConfig {
                    name: s.name.get_ref().clone(),
                    address,
                    weight,
                });
            }
        }
        let health_check = b
            .health_check
            .as_ref()
            .map(|h| self.health_check(h, &format!("{field}.health_check")));
        BackendConfig {
            name: name.get_ref().clone(),
            balancer,
            servers,
            health_check,
            connect_timeout: self.duration(&b.connect_timeout, &format!("{field}.connect_timeout"), CONNECT_TIMEOUT),
            response_timeout: self.duration(
                &b.response_timeout,
                &format!("{field}.response_timeout"),
                RESPONSE_TIMEOUT,
            ),
            idle_timeout: self.duration(&b.idle_timeout, &format!("{field}.idle_timeout"), IDLE_TIMEOUT),
            retries: b.retries.as_ref().map(|r| *r.get_ref()).unwrap_or(RETRIES),
            passive_health: self.passive_health(b.passive_health.as_ref(), &field),
            retry_budget: self.retry_budget(b.retry_budget.as_ref(), &field),
            fallback: self.fallback(b, &field, backends, plugins),
            max_idle_per_server: b
                .max_idle_per_server
                .as_ref()
                .map(|m| *m.get_ref())
                .unwrap_or(MAX_IDLE_PER_SERVER),
        }
    }

    fn server_address(&mut self, address: &Spanned<String>, field: &str) -> Option<SocketAddr> {
        let text = address.get_ref();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Some(addr);
        }
        // A host name is resolved once, when the configuration is loaded.
        match text.to_socket_addrs().map(|mut addrs| addrs.next()) {
            Ok(Some(addr)) => Some(addr),
            Ok(None) | Err(_) => {
                self.problems.at(
                    Some(address.span().start),
                    field,
                    format!("\"{text}\" is not an address that resolves; write \"ip:port\" or \"host:port\""),
                );
                None
            }
        }
    }

    fn health_check(&mut self, h: &HealthCheckFile, field: &str) -> HealthCheckConfig {
        let method = match &h.method {
            None => http::Method::GET,
            Some(m) => http::Method::from_bytes(m.get_ref().as_bytes()).unwrap_or_else(|_| {
                self.problems.at(
                    Some(m.span().start),
                    format!("{field}.method"),
                    format!("\"{}\" is not an HTTP method", m.get_ref()),
                );
                http::Method::GET
            }),
        };
        let path = h
            .path
            .as_ref()
            .map(|p| p.get_ref().clone())
            .unwrap_or_else(|| "/".into());
        if let Some(p) = &h.path {
            let valid = path.starts_with('/') && path.parse::<http::uri::PathAndQuery>().is_ok();
            self.check(valid, p, &format!("{field}.path"), "must be a path starting with '/'");
        }
        let expect_status = h.expect_status.as_ref().and_then(|s| {
            let status = http::StatusCode::from_u16(*s.get_ref()).ok();
            self.check(
                status.is_some(),
                s,
                &format!("{field}.expect_status"),
                "must be a status from 100 to 999",
            );
            status
        });
        let interval = self.duration(&h.interval, &format!("{field}.interval"), CHECK_INTERVAL);
        let mut count = |value: &Option<Spanned<u32>>, name: &str, default: u32| {
            let n = value.as_ref().map(|v| *v.get_ref()).unwrap_or(default);
            if let Some(v) = value {
                self.check(n >= 1, v, &format!("{field}.{name}"), "must be at least 1");
            }
            n.max(1)
        };
        let rise = count(&h.rise, "rise", CHECK_RISE);
        let fall = count(&h.fall, "fall", CHECK_FALL);
        HealthCheckConfig {
            method,
            path,
            host: h.host.as_ref().map(|v| v.get_ref().clone()),
            expect_status,
            interval,
            // HAProxy: `timeout check` defaults to the interval.
            timeout: self.duration(&h.timeout, &format!("{field}.timeout"), interval),
            rise,
            fall,
        }
    }

    fn plugin(&mut self, name: &Spanned<String>, p: &PluginFile) -> PluginConfig {
        let field = format!("plugin.{}", name.get_ref());
        let source_text = p.source.get_ref();
        let source = match source_text.strip_prefix("builtin:") {
            Some(builtin) => PluginSource::Builtin(builtin.to_string()),
            None => PluginSource::File(
                self.existing_file(&p.source, &format!("{field}.source"))
                    .unwrap_or_else(|| PathBuf::from(source_text)),
            ),
        };
        let on_error = match p.on_error.as_ref().map(|o| *o.get_ref()) {
            Some(FailurePolicyFile::FailOpen) => FailurePolicy::Open,
            None | Some(FailurePolicyFile::FailClosed) => {
                let status = p.error_status.as_ref().map(|s| *s.get_ref()).unwrap_or(503);
                let valid = (500..600).contains(&status);
                if let Some(s) = &p.error_status {
                    self.check(valid, s, &format!("{field}.error_status"), "must be a 5xx status");
                }
                let status = if valid { status } else { 503 };
                FailurePolicy::Closed {
                    status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE),
                }
            }
        };
        let timeout = self.duration(&p.timeout, &format!("{field}.timeout"), PLUGIN_TIMEOUT);
        if let Some(t) = &p.timeout {
            let sane = timeout >= Duration::from_millis(1) && timeout <= Duration::from_secs(10);
            self.check(sane, t, &format!("{field}.timeout"), "must be from 1ms to 10s");
        }
        let memory_limit = match &p.memory_limit {
            None => PLUGIN_MEMORY,
            Some(m) => match parse_size(m.get_ref()) {
                Ok(size) if size >= 1 << 16 => size,
                Ok(_) => {
                    self.problems.at(
                        Some(m.span().start),
                        format!("{field}.memory_limit"),
                        "must be at least 64KiB (one Wasm page)",
                    );
                    PLUGIN_MEMORY
                }
                Err(e) => {
                    self.problems
                        .at(Some(m.span().start), format!("{field}.memory_limit"), e);
                    PLUGIN_MEMORY
                }
            },
        };
        let max_calls_per_instance = p
            .max_calls_per_instance
            .as_ref()
            .map(|m| *m.get_ref())
            .unwrap_or(PLUGIN_MAX_CALLS);
        if let Some(m) = &p.max_calls_per_instance {
            self.check(
                max_calls_per_instance >= 1,
                m,
                &format!("{field}.max_calls_per_instance"),
                "must be at least 1",
            );
        }
        let state_remote = self.state_remote(p, &field);
        let (line, column) = self.line_column(p.source.span().start);
        PluginConfig {
            name: name.get_ref().clone(),
            source,
            on_error,
            timeout,
            memory_limit,
            max_calls_per_instance: max_calls_per_instance.max(1),
            state_max_entries: self.at_least_one(
                &p.state_max_entries,
                &format!("{field}.state_max_entries"),
                PLUGIN_STATE_ENTRIES,
            ),
            state_remote,
            settings: p.config.clone().unwrap_or_default(),
            at: Position { line, column },
        }
    }

    fn duration(&mut self, value: &Option<Spanned<String>>, field: &str, default: Duration) -> Duration {
        let Some(v) = value else { return default };
        match parse_duration(v.get_ref()) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problems
                    .at(Some(v.span().start), field, "must be longer than zero");
                default
            }
            Err(e) => {
                self.problems.at(Some(v.span().start), field, e);
                default
            }
        }
    }

    fn existing_file(&mut self, path: &Spanned<String>, field: &str) -> Option<PathBuf> {
        let resolved = self.base.join(path.get_ref());
        if resolved.is_file() {
            Some(resolved)
        } else {
            self.problems.at(
                Some(path.span().start),
                field,
                format!("no such file: {}", resolved.display()),
            );
            None
        }
    }

    fn reference(&mut self, name: &Spanned<String>, known: &[&str], kind: &str, field: &str) {
        if !known.contains(&name.get_ref().as_str()) {
            let choices = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            self.problems.at(
                Some(name.span().start),
                field,
                format!("unknown {kind} \"{}\"; declared: {choices}", name.get_ref()),
            );
        }
    }

    /// Records a problem at `value` unless `ok`; returns `ok`.
    fn check<T>(&mut self, ok: bool, value: &Spanned<T>, field: &str, message: impl Into<String>) -> bool {
        if !ok {
            self.problems.at(Some(value.span().start), field, message);
        }
        ok
    }

    fn line_column(&self, offset: usize) -> (usize, usize) {
        line_column(self.problems.text(), offset)
    }
}
