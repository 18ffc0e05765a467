//! `[backend.NAME]`: servers (names unique, addresses that resolve),
//! health checks, timeouts, passive health, retry budget, fallback.

use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};

use toml::Spanned;

use super::Checker;
use crate::config::defaults::*;
use crate::config::file::*;
use crate::config::*;

impl Checker<'_, '_> {
    pub(super) fn backend(
        &mut self,
        name: &Spanned<String>,
        b: &BackendFile,
        backends: &[&str],
        plugins: &[&str],
    ) -> BackendConfig {
        let field = format!("backend.{}", name.get_ref());
        let balancer = match &b.balancer {
            // Named or not, the default is builtin:round-robin unless the
            // file declares a plugin of that name.
            Some(p) if p.get_ref() == DEFAULT_BALANCER => DEFAULT_BALANCER.to_string(),
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
                let host = s
                    .address
                    .get_ref()
                    .rsplit_once(':')
                    .map(|(host, _)| host.trim_start_matches('[').trim_end_matches(']'))
                    .filter(|host| host.parse::<std::net::IpAddr>().is_err())
                    .map(str::to_string);
                servers.push(ServerConfig {
                    name: s.name.get_ref().clone(),
                    address,
                    weight,
                    host,
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
            protocol: self.upstream_protocol(b, &field),
            tls: b.tls.as_ref().map(|t| self.upstream_tls(t, &field)),
            h2_max_streams: b.h2_max_streams.as_ref().map_or(UPSTREAM_H2_MAX_STREAMS, |m| {
                self.check(
                    *m.get_ref() >= 1,
                    m,
                    &format!("{field}.h2_max_streams"),
                    "must be at least 1",
                );
                (*m.get_ref()).max(1)
            }),
            tunnel_idle_timeout: self.duration(
                &b.tunnel_idle_timeout,
                &format!("{field}.tunnel_idle_timeout"),
                TUNNEL_IDLE_TIMEOUT,
            ),
        }
    }

    fn upstream_protocol(&mut self, b: &BackendFile, field: &str) -> UpstreamProtocol {
        let Some(p) = &b.protocol else {
            return UpstreamProtocol::Http1;
        };
        let protocol = match p.get_ref().as_str() {
            "http1" | "http/1.1" => UpstreamProtocol::Http1,
            "h2" => UpstreamProtocol::H2,
            "h2c" => UpstreamProtocol::H2c,
            "auto" => UpstreamProtocol::Auto,
            other => {
                self.problems.at(
                    Some(p.span().start),
                    format!("{field}.protocol"),
                    format!("\"{other}\": expected \"http1\", \"h2\", \"h2c\" or \"auto\""),
                );
                return UpstreamProtocol::Http1;
            }
        };
        match (protocol, &b.tls) {
            (UpstreamProtocol::H2, None) => {
                self.problems.at(
                    Some(p.span().start),
                    format!("{field}.protocol"),
                    "\"h2\" is HTTP/2 over TLS: add `tls = {}` (or use \"h2c\" for cleartext)",
                );
            }
            (UpstreamProtocol::H2c, Some(_)) => {
                self.problems.at(
                    Some(p.span().start),
                    format!("{field}.protocol"),
                    "\"h2c\" is cleartext HTTP/2: remove `tls` (or use \"h2\")",
                );
            }
            _ => {}
        }
        protocol
    }

    fn upstream_tls(&mut self, t: &Spanned<UpstreamTlsFile>, field: &str) -> UpstreamTlsConfig {
        let field = format!("{field}.tls");
        let (line, column) = self.line_column(t.span().start);
        let t = t.get_ref();
        let ca =
            t.ca.as_ref()
                .and_then(|c| self.existing_file(c, &format!("{field}.ca")));
        let client_certificate = match (&t.client_cert, &t.client_key) {
            (Some(cert), Some(key)) => {
                let cert = self.existing_file(cert, &format!("{field}.client_cert"));
                let key = self.existing_file(key, &format!("{field}.client_key"));
                cert.zip(key)
            }
            (Some(one), None) | (None, Some(one)) => {
                self.problems.at(
                    Some(one.span().start),
                    field.clone(),
                    "set both client_cert and client_key, or neither",
                );
                None
            }
            (None, None) => None,
        };
        let server_name = t.server_name.as_ref().map(|n| {
            let valid = rustls::pki_types::ServerName::try_from(n.get_ref().as_str()).is_ok();
            self.check(
                valid,
                n,
                &format!("{field}.server_name"),
                "must be a DNS name or an IP address",
            );
            n.get_ref().clone()
        });
        UpstreamTlsConfig {
            ca,
            server_name,
            client_certificate,
            insecure_skip_verify: t.insecure_skip_verify.unwrap_or(false),
            at: Position { line, column },
        }
    }

    pub(super) fn server_address(&mut self, address: &Spanned<String>, field: &str) -> Option<SocketAddr> {
        let text = address.get_ref();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Some(addr);
        }
        // A host name is resolved once, when the configuration is loaded:
        // callers load configurations off the runtime (spawn_blocking, or
        // before it starts), so this may block.
        #[allow(clippy::disallowed_methods)]
        let resolved = text.to_socket_addrs();
        match resolved.map(|mut addrs| addrs.next()) {
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

    pub(super) fn health_check(&mut self, h: &HealthCheckFile, field: &str) -> HealthCheckConfig {
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

    pub(super) fn passive_health(&mut self, p: Option<&PassiveHealthFile>, field: &str) -> PassiveHealthConfig {
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
            panic_threshold: match p.and_then(|p| p.panic_threshold.as_ref()) {
                None => PANIC_THRESHOLD,
                Some(t) => {
                    let ok = (0.0..=1.0).contains(t.get_ref());
                    self.check(
                        ok,
                        t,
                        &format!("{field}.passive_health.panic_threshold"),
                        "must be from 0.0 to 1.0",
                    );
                    t.get_ref().clamp(0.0, 1.0)
                }
            },
        }
    }

    pub(super) fn retry_budget(&mut self, r: Option<&RetryBudgetFile>, field: &str) -> RetryBudgetConfig {
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

    pub(super) fn fallback(
        &mut self,
        b: &BackendFile,
        field: &str,
        backends: &[&str],
        plugins: &[&str],
    ) -> Option<Fallback> {
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{line_of, problem_at, problems, valid, BASE};
    use crate::config::{Fallback, DEFAULT_BALANCER};

    fn with_backend(extra: &str) -> String {
        format!("{BASE}\n[backend.spare]\n{extra}\n")
    }

    #[test]
    fn servers_need_unique_names_weights_in_range_and_addresses() {
        let text = with_backend(
            r#"servers = [
  { name = "a", address = "127.0.0.1:1", weight = 300 },
  { name = "a", address = "not an address" },
]"#,
        );
        let found = problems(&text);
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "backend.spare.servers[0].weight",
                "backend.spare.servers[1].name",
                "backend.spare.servers[1].address"
            ],
            "{found:#?}"
        );
        assert_eq!(found[0].message, "must be from 0 to 256");
        assert_eq!(found[2].line, line_of(&text, "not an address"));
        assert!(problem_at(&with_backend("servers = []"), "backend.spare.servers")
            .1
            .contains("at least one server"));
    }

    #[test]
    fn round_robin_named_but_not_declared_is_the_builtin() {
        let config = valid(&with_backend(
            "balancer = \"round-robin\"\nservers = [{ name = \"s\", address = \"127.0.0.1:2\" }]",
        ));
        assert_eq!(
            config.backend("spare").map(|b| b.balancer.as_str()),
            Some(DEFAULT_BALANCER)
        );
        assert!(config.plugin(DEFAULT_BALANCER).is_some(), "builtin:round-robin added");
        let other = with_backend("balancer = \"least-conn\"\nservers = [{ name = \"s\", address = \"127.0.0.1:2\" }]");
        assert!(problem_at(&other, "backend.spare.balancer")
            .1
            .contains("unknown plugin \"least-conn\""));
    }

    #[test]
    fn defaults_and_the_implicit_round_robin() {
        let config = valid(BASE);
        let www = config.backend("www").expect("declared");
        assert_eq!(www.balancer, DEFAULT_BALANCER);
        assert_eq!(
            (www.connect_timeout, www.response_timeout, www.idle_timeout),
            (Duration::from_secs(5), Duration::from_secs(60), Duration::from_secs(60))
        );
        assert_eq!((www.retries, www.max_idle_per_server), (3, 1024));
        assert_eq!((www.passive_health.failures, www.passive_health.on_5xx), (3, false));
        assert_eq!((www.retry_budget.ratio, www.retry_budget.min_per_second), (0.2, 10));
        assert!(www.health_check.is_none() && www.fallback.is_none());
        assert_eq!(www.servers[0].weight, 1);
        // No [plugin.round-robin]: the builtin is used.
        assert!(config.plugin(DEFAULT_BALANCER).is_some());
    }

    #[test]
    fn health_checks_take_haproxy_defaults_and_refuse_nonsense() {
        let config = valid(&with_backend(
            r#"servers = [{ name = "s", address = "127.0.0.1:2" }]
health_check = { path = "/health", interval = "500ms" }"#,
        ));
        let check = config
            .backend("spare")
            .and_then(|b| b.health_check.clone())
            .expect("set");
        assert_eq!(check.method, http::Method::GET);
        assert_eq!(
            check.timeout,
            Duration::from_millis(500),
            "timeout defaults to the interval"
        );
        assert_eq!((check.rise, check.fall, check.expect_status), (2, 3, None));
        let text = with_backend(
            r#"servers = [{ name = "s", address = "127.0.0.1:2" }]
health_check = { path = "health", rise = 0, expect_status = 42 }"#,
        );
        let found = problems(&text);
        for field in ["path", "rise", "expect_status"] {
            assert!(
                found
                    .iter()
                    .any(|p| p.field == format!("backend.spare.health_check.{field}")),
                "{field}: {found:#?}"
            );
        }
    }

    #[test]
    fn budgets_and_fallbacks() {
        let text = with_backend(
            r#"servers = [{ name = "s", address = "127.0.0.1:2" }]
retry_budget = { ratio = 2.0 }
fallback_backend = "www"
fallback_plugin = "sorry""#,
        );
        let found = problems(&text);
        assert!(found
            .iter()
            .any(|p| p.field == "backend.spare.retry_budget.ratio" && p.message == "must be from 0.0 to 1.0"));
        assert!(found
            .iter()
            .any(|p| p.field == "backend.spare.fallback_plugin" && p.message.contains("not both")));
        let config = valid(&with_backend(
            "servers = [{ name = \"s\", address = \"127.0.0.1:2\" }]\nfallback_backend = \"www\"",
        ));
        assert_eq!(
            config.backend("spare").and_then(|b| b.fallback.clone()),
            Some(Fallback::Backend("www".into()))
        );
        let unknown =
            with_backend("servers = [{ name = \"s\", address = \"127.0.0.1:2\" }]\nfallback_backend = \"gone\"");
        assert!(problem_at(&unknown, "backend.spare.fallback_backend")
            .1
            .contains("unknown backend \"gone\""));
    }
}
