//! `[plugin.NAME]`: source, failure policy, limits, shared state.

use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::Checker;
use crate::config::defaults::*;
use crate::config::file::*;
use crate::config::units::parse_size;
use crate::config::*;

impl Checker<'_, '_> {
    pub(super) fn plugin(&mut self, name: &Spanned<String>, p: &PluginFile) -> PluginConfig {
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
        let pool_size = p.pool_size.as_ref().map_or(PLUGIN_POOL_SIZE, |s| *s.get_ref());
        if let Some(s) = &p.pool_size {
            self.check(
                (1..=1024).contains(&pool_size),
                s,
                &format!("{field}.pool_size"),
                "must be from 1 to 1024",
            );
        }
        let state_remote = self.state_remote(p, &field);
        let max_body_buffer = self.bounded_size(
            &p.max_body_buffer,
            &format!("{field}.max_body_buffer"),
            PLUGIN_MAX_BODY_BUFFER,
        );
        let asks = self.ask_limits(p, &field);
        let (line, column) = self.line_column(p.source.span().start);
        PluginConfig {
            name: name.get_ref().clone(),
            source,
            on_error,
            timeout,
            memory_limit,
            max_calls_per_instance: max_calls_per_instance.max(1),
            pool_size: pool_size.clamp(1, 1024),
            state_max_entries: self.at_least_one(
                &p.state_max_entries,
                &format!("{field}.state_max_entries"),
                PLUGIN_STATE_ENTRIES,
            ),
            state_remote,
            max_body_buffer,
            asks,
            settings: p.config.clone().unwrap_or_default(),
            at: Position { line, column },
        }
    }

    /// A size from 0 to 16MiB (body buffers and reply bodies are held in
    /// memory, once per request).
    fn bounded_size(&mut self, value: &Option<Spanned<String>>, field: &str, default: usize) -> usize {
        let Some(v) = value else { return default };
        match parse_size(v.get_ref()) {
            Ok(size) if size <= 16 << 20 => size,
            Ok(_) => {
                self.problems
                    .at(Some(v.span().start), field.to_string(), "must be at most 16MiB");
                default
            }
            Err(e) => {
                self.problems.at(Some(v.span().start), field.to_string(), e);
                default
            }
        }
    }

    fn ask_limits(&mut self, p: &PluginFile, field: &str) -> AskLimits {
        let timeout = self.duration(&p.ask_timeout, &format!("{field}.ask_timeout"), PLUGIN_ASK_TIMEOUT);
        if let Some(t) = &p.ask_timeout {
            let sane = timeout >= Duration::from_millis(1) && timeout <= Duration::from_secs(60);
            self.check(sane, t, &format!("{field}.ask_timeout"), "must be from 1ms to 60s");
        }
        let max_body = self.bounded_size(&p.ask_max_body, &format!("{field}.ask_max_body"), PLUGIN_ASK_MAX_BODY);
        let per_request = p
            .max_asks_per_request
            .as_ref()
            .map_or(PLUGIN_MAX_ASKS, |m| *m.get_ref());
        if let Some(m) = &p.max_asks_per_request {
            let sane = (1..=16).contains(&per_request);
            self.check(
                sane,
                m,
                &format!("{field}.max_asks_per_request"),
                "must be from 1 to 16",
            );
        }
        AskLimits {
            timeout,
            max_body,
            per_request: per_request.clamp(1, 16),
        }
    }

    pub(super) fn state_remote(&mut self, p: &PluginFile, field: &str) -> Option<RemoteConfig> {
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
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{line_of, problem_at, problems, valid, BASE};
    use crate::config::{FailurePolicy, PluginSource};

    fn with_plugin(body: &str) -> String {
        format!("{BASE}\n[plugin.p]\n{body}\n")
    }

    #[test]
    fn a_builtin_with_every_default() {
        let config = valid(&with_plugin(
            "source = \"builtin:forwarded-proto\"\nconfig = { mode = \"append\" }",
        ));
        let p = config.plugin("p").expect("declared");
        assert_eq!(p.source, PluginSource::Builtin("forwarded-proto".into()));
        assert_eq!(
            p.on_error,
            FailurePolicy::Closed {
                status: http::StatusCode::SERVICE_UNAVAILABLE
            }
        );
        assert_eq!((p.timeout, p.memory_limit), (Duration::from_millis(10), 32 << 20));
        assert_eq!((p.max_calls_per_instance, p.state_max_entries), (1_000_000, 100_000));
        assert_eq!(p.pool_size, 64);
        assert!(p.state_remote.is_none());
        assert_eq!(p.settings.get("mode").and_then(|v| v.as_str()), Some("append"));
        assert_eq!(
            p.at.line,
            line_of(&with_plugin(""), "[plugin.p]") + 1,
            "placed at its source"
        );
    }

    #[test]
    fn limits_and_policies_are_checked() {
        let text = with_plugin(
            r#"source = "builtin:noop"
error_status = 404
timeout = "20s"
memory_limit = "1KiB"
max_calls_per_instance = 0
pool_size = 0"#,
        );
        let found = problems(&text);
        for (field, message) in [
            ("plugin.p.error_status", "must be a 5xx status"),
            ("plugin.p.timeout", "must be from 1ms to 10s"),
            ("plugin.p.memory_limit", "must be at least 64KiB (one Wasm page)"),
            ("plugin.p.pool_size", "must be from 1 to 1024"),
            ("plugin.p.max_calls_per_instance", "must be at least 1"),
        ] {
            assert!(
                found.iter().any(|p| p.field == field && p.message == message),
                "{field}: {found:#?}"
            );
        }
        let open = valid(&with_plugin("source = \"builtin:noop\"\non_error = \"fail-open\""));
        assert_eq!(open.plugin("p").map(|p| p.on_error), Some(FailurePolicy::Open));
    }

    #[test]
    fn a_component_file_must_exist() {
        let text = with_plugin("source = \"plugins/router.wasm\"");
        assert_eq!(
            problem_at(&text, "plugin.p.source"),
            (
                line_of(&text, "router.wasm"),
                "no such file: /etc/switchyard/plugins/router.wasm".into()
            )
        );
    }

    #[test]
    fn shared_state_in_redis() {
        let config = valid(&with_plugin(
            "source = \"builtin:noop\"\nstate_redis = \"redis://127.0.0.1:6379/0\"\nstate_sync = \"50ms\"",
        ));
        let remote = config.plugin("p").and_then(|p| p.state_remote.clone()).expect("set");
        assert_eq!(remote.url, "redis://127.0.0.1:6379/0");
        assert_eq!(remote.sync_interval, Duration::from_millis(50));
        let text = with_plugin("source = \"builtin:noop\"\nstate_redis = \"postgres://x\"\nstate_sync = \"1m\"");
        assert!(problem_at(&text, "plugin.p.state_redis")
            .1
            .starts_with("not a Redis URL"));
        assert_eq!(problem_at(&text, "plugin.p.state_sync").1, "must be from 1ms to 10s");
    }
}
