//! `[[listener]]`: names and binds unique, references to plugins and
//! backends, TLS files, client limits.

use std::collections::HashSet;
use std::net::SocketAddr;

use toml::Spanned;

use super::Checker;
use crate::config::defaults::*;
use crate::config::file::*;
use crate::config::*;

impl Checker<'_, '_> {
    pub(super) fn listeners(
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
                    normalize_path: self.normalize_path(l.normalize_path.as_ref(), &field),
                });
            }
        }
        out
    }

    pub(super) fn listener_limits(&mut self, l: &ListenerFile, field: &str) -> ListenerLimits {
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

    pub(super) fn tls(&mut self, t: &TlsFile, field: &str) -> Option<TlsConfig> {
        // Each certificate as written: its cert, its key, its field.
        type Written<'f> = (&'f Spanned<String>, Option<&'f Spanned<String>>, String);
        let mut written: Vec<Written<'_>> = Vec::new();
        match (&t.cert, t.certificates.is_empty()) {
            (Some(cert), true) => written.push((cert, t.key.as_ref(), field.to_string())),
            (Some(cert), false) => {
                self.problems.at(
                    Some(cert.span().start),
                    format!("{field}.cert"),
                    "set cert (one certificate) or certificates (several), not both",
                );
            }
            (None, true) => {
                self.problems.at(None, field.to_string(), "needs cert, or certificates");
            }
            (None, false) => {
                if let Some(key) = &t.key {
                    self.check(
                        false,
                        key,
                        &format!("{field}.key"),
                        "key goes with cert, or in each of certificates",
                    );
                }
                for (i, c) in t.certificates.iter().enumerate() {
                    written.push((&c.cert, c.key.as_ref(), format!("{field}.certificates[{i}]")));
                }
            }
        }
        let mut certificates = Vec::new();
        let mut complete = true;
        for (cert, key, at_field) in written {
            let (line, column) = self.line_column(cert.span().start);
            let cert_path = self.existing_file(cert, &format!("{at_field}.cert"));
            let key_path = key.map(|k| self.existing_file(k, &format!("{at_field}.key")));
            match (cert_path, key_path) {
                (Some(cert), None) => certificates.push(CertificateConfig {
                    cert,
                    key: None,
                    at: Position { line, column },
                }),
                (Some(cert), Some(Some(key))) => certificates.push(CertificateConfig {
                    cert,
                    key: Some(key),
                    at: Position { line, column },
                }),
                _ => complete = false,
            }
        }
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
        let unknown_name = match t.unknown_name.as_ref().map(|u| (u, u.get_ref().as_str())) {
            None | Some((_, "default")) => UnknownName::Default,
            Some((_, "refuse")) => UnknownName::Refuse,
            Some((u, other)) => {
                self.problems.at(
                    Some(u.span().start),
                    format!("{field}.unknown_name"),
                    format!("\"{other}\": expected \"default\" or \"refuse\""),
                );
                UnknownName::Default
            }
        };
        let at = certificates.first().map(|c| c.at).unwrap_or_default();
        (complete && !certificates.is_empty()).then_some(())?;
        Some(TlsConfig {
            certificates,
            unknown_name,
            min_version: min_version?,
            http2: t.http2.unwrap_or(true),
            at,
        })
    }

    fn normalize_path(&mut self, n: Option<&NormalizePathFile>, field: &str) -> PathNormalization {
        let defaults = PathNormalization::default();
        let Some(n) = n else { return defaults };
        let escaped_slashes = match n.escaped_slashes.as_ref().map(|e| (e, e.get_ref().as_str())) {
            None | Some((_, "keep")) => EscapedSlashes::Keep,
            Some((_, "refuse")) => EscapedSlashes::Refuse,
            Some((_, "decode")) => EscapedSlashes::Decode,
            Some((e, other)) => {
                self.problems.at(
                    Some(e.span().start),
                    format!("{field}.normalize_path.escaped_slashes"),
                    format!("\"{other}\": expected \"keep\", \"refuse\" or \"decode\""),
                );
                EscapedSlashes::Keep
            }
        };
        let refuse_changed = match n.on_change.as_ref().map(|o| (o, o.get_ref().as_str())) {
            None | Some((_, "forward")) => false,
            Some((_, "refuse")) => true,
            Some((o, other)) => {
                self.problems.at(
                    Some(o.span().start),
                    format!("{field}.normalize_path.on_change"),
                    format!("\"{other}\": expected \"forward\" or \"refuse\""),
                );
                false
            }
        };
        PathNormalization {
            enabled: n.enabled.unwrap_or(defaults.enabled),
            merge_slashes: n.merge_slashes.unwrap_or(defaults.merge_slashes),
            escaped_slashes,
            lowercase: n.lowercase.unwrap_or(defaults.lowercase),
            refuse_changed,
        }
    }

    pub(super) fn bind(&mut self, bind: &Spanned<String>, field: &str) -> Option<SocketAddr> {
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{line_of, problem_at, problems, valid, BASE};

    const TWO: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:8080"
default_backend = "www"

[[listener]]
name = "web"
bind = "127.0.0.1:8080"
plugins = ["missing"]
default_backend = "nowhere"

[[listener]]
name = "idle"
bind = "127.0.0.1:0"

[backend.www]
servers = [{ name = "web1", address = "127.0.0.1:8001" }]
"#;

    #[test]
    fn names_binds_and_references_are_checked_together() {
        let found = problems(TWO);
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "listener[1].name",
                "listener[1].bind",
                "listener[1].plugins[0]",
                "listener[1].default_backend",
                "listener[2]",
            ],
            "{found:#?}"
        );
        assert!(found[0].message.contains("used by another listener"));
        assert!(found[1].message.contains("bound by another listener"));
        assert!(found[2].message.contains("unknown plugin \"missing\"; declared: none"));
        assert!(found[3].message.contains("unknown backend \"nowhere\"; declared: www"));
        assert!(found[4].message.contains("neither plugins nor a default_backend"));
        // Each at its own line: the second listener's name, then its bind.
        assert_eq!(found[0].line, line_of(TWO, "[[listener]]") + 6);
        assert_eq!(found[1].line, found[0].line + 1);
    }

    #[test]
    fn binds_in_haproxy_and_ipv6_forms() {
        for (written, parsed) in [("*:80", "0.0.0.0:80"), (":81", "0.0.0.0:81"), ("[::]:443", "[::]:443")] {
            let config = valid(&BASE.replace("127.0.0.1:0", written));
            assert_eq!(config.listeners[0].bind.to_string(), parsed);
        }
        let text = BASE.replace("127.0.0.1:0", "localhost:80");
        assert!(problem_at(&text, "listener[0].bind").1.contains("is not an address"));
    }

    #[test]
    fn client_limits_have_defaults_and_bounds() {
        let limits = valid(BASE).listeners[0].limits.clone();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_header_bytes, 64 << 10);
        assert_eq!((limits.max_headers, limits.h2_max_streams), (100, 100));
        assert_eq!((limits.max_body, limits.max_connections), (None, None));
        let text = BASE.replace(
            "default_backend = \"www\"",
            "default_backend = \"www\"\nmax_header_bytes = \"4KiB\"\nmax_body = \"1MiB\"\nh2_max_streams = 0",
        );
        assert_eq!(
            problem_at(&text, "listener[0].max_header_bytes"),
            (line_of(&text, "max_header_bytes"), "must be from 8KiB to 1MiB".into())
        );
        assert_eq!(problem_at(&text, "listener[0].h2_max_streams").1, "must be at least 1");
    }

    #[test]
    fn tls_files_must_exist_and_versions_be_known() {
        let text = BASE.replace(
            "default_backend = \"www\"",
            "default_backend = \"www\"\ntls = { cert = \"nope.pem\", min_version = \"1.1\" }",
        );
        let found = problems(&text);
        assert!(
            found
                .iter()
                .any(|p| p.field == "listener[0].tls.cert" && p.message == "no such file: /etc/switchyard/nope.pem"),
            "{found:#?}"
        );
        assert!(found
            .iter()
            .any(|p| p.field == "listener[0].tls.min_version" && p.message.contains("expected \"1.2\" or \"1.3\"")));
    }
}
