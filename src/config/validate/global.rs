//! `[global]`, `[admin]` and `[access_log]`.

use toml::Spanned;

use super::Checker;
use crate::config::defaults::*;
use crate::config::file::*;
use crate::config::*;

impl Checker<'_, '_> {
    pub(super) fn global_limits(&mut self, g: &GlobalFile) -> GlobalLimits {
        GlobalLimits {
            max_connections: self.at_least_one(&g.max_connections, "global.max_connections", MAX_CONNECTIONS),
            max_in_flight: self.at_least_one(&g.max_in_flight, "global.max_in_flight", MAX_IN_FLIGHT),
            shutdown_grace: self.duration(&g.shutdown_grace, "global.shutdown_grace", SHUTDOWN_GRACE),
            handover_delay: self.handover_delay(g),
            max_tunnels: self.at_least_one(&g.max_tunnels, "global.max_tunnels", MAX_TUNNELS),
        }
    }

    fn handover_delay(&mut self, g: &GlobalFile) -> Duration {
        let delay = self.duration(&g.handover_delay, "global.handover_delay", HANDOVER_DELAY);
        if let Some(d) = &g.handover_delay {
            self.check(
                delay <= Duration::from_secs(300),
                d,
                "global.handover_delay",
                "must be at most 5m (it delays every stop)",
            );
        }
        delay.min(Duration::from_secs(300))
    }

    pub(super) fn plugin_cache(&mut self, setting: &Option<Spanned<String>>) -> CacheSetting {
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

    pub(super) fn admin(&mut self, admin: &AdminFile) -> Option<AdminConfig> {
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

    pub(super) fn access_log(&mut self, log: &AccessLogFile) -> AccessLogConfig {
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
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::super::testing::{line_of, problem_at, valid, BASE};
    use crate::config::{AccessLogFormat, CacheSetting};

    #[test]
    fn defaults_when_the_sections_are_absent() {
        let config = valid(BASE);
        assert_eq!(config.workers, None);
        assert!(config.watch);
        assert_eq!(config.limits.max_connections, 10_000);
        assert_eq!(config.limits.max_in_flight, 10_000);
        assert_eq!(config.limits.shutdown_grace, Duration::from_secs(10));
        assert_eq!(config.plugin_cache, CacheSetting::Default);
        assert!(config.admin.is_none() && config.access_log.is_none());
    }

    #[test]
    fn global_settings_are_read_and_checked() {
        let config = valid(&format!(
            "[global]\nworkers = 2\nwatch = false\nplugin_cache = \"cache\"\nshutdown_grace = \"3s\"\nhandover_delay = \"2s\"\n{BASE}"
        ));
        assert_eq!(config.workers, Some(2));
        assert!(!config.watch);
        assert_eq!(
            config.plugin_cache,
            CacheSetting::Dir(Path::new("/etc/switchyard/cache").into())
        );
        assert_eq!(config.limits.shutdown_grace, Duration::from_secs(3));
        assert_eq!(config.limits.handover_delay, Duration::from_secs(2));
        assert_eq!(
            valid(&format!("[global]\nplugin_cache = \"off\"\n{BASE}")).plugin_cache,
            CacheSetting::Off
        );

        let text = format!("[global]\nworkers = 0\nmax_connections = 0\n{BASE}");
        assert_eq!(
            problem_at(&text, "global.workers"),
            (line_of(&text, "workers"), "must be at least 1".into())
        );
        assert_eq!(problem_at(&text, "global.max_connections").1, "must be at least 1");
        let text = format!("[global]\nlog_level = \"loud,=\"\n{BASE}");
        assert!(problem_at(&text, "global.log_level").1.contains("must be a level"));
    }

    #[test]
    fn the_admin_endpoint_stays_on_loopback_without_a_token() {
        let config = valid(&format!("[admin]\n{BASE}"));
        assert_eq!(config.admin.map(|a| a.bind.to_string()), Some("127.0.0.1:9901".into()));
        let open = format!("[admin]\nbind = \"0.0.0.0:9901\"\n{BASE}");
        assert!(problem_at(&open, "admin.bind").1.contains("token"));
        let short = format!("[admin]\ntoken = \"short\"\n{BASE}");
        assert!(problem_at(&short, "admin.token").1.contains("at least 16"));
        let guarded = valid(&format!(
            "[admin]\nbind = \"0.0.0.0:9901\"\ntoken = \"0123456789abcdef0123\"\n{BASE}"
        ));
        assert!(guarded.admin.is_some_and(|a| a.token.is_some()));
    }

    #[test]
    fn the_access_log_format_and_path() {
        let config = valid(&format!(
            "[access_log]\nformat = \"json\"\npath = \"logs/access.log\"\n{BASE}"
        ));
        let log = config.access_log.expect("configured");
        assert_eq!(log.format, AccessLogFormat::Json);
        assert_eq!(log.path.as_deref(), Some(Path::new("/etc/switchyard/logs/access.log")));
        assert_eq!(log.buffer, 8192);
        assert_eq!(
            valid(&format!("[access_log]\n{BASE}")).access_log.and_then(|l| l.path),
            None
        );
        let text = format!("[access_log]\nformat = \"xml\"\n{BASE}");
        assert_eq!(problem_at(&text, "access_log.format").1, "must be \"text\" or \"json\"");
    }
}
