//! From TOML text to a [`Config`]: parse with error recovery, decode each
//! section on its own (so one bad entry does not hide the others), then check
//! every value and reference. All problems are collected and returned
//! together.
//!
//! This file holds the parse, the orchestration and the helpers every
//! section uses; each section is checked in a file of its own: `global.rs`
//! (`[global]`, `[admin]`, `[access_log]`), `listener.rs`, `backend.rs`,
//! `plugin.rs`.

mod backend;
mod global;
mod listener;
mod plugin;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::error::{line_column, ConfigError, Problems};
use super::file::*;
use super::units::{parse_duration, parse_size};
use super::*;

/// The sections as decoded, before cross-checks.
#[derive(Default)]
pub(super) struct Document {
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

/// Decodes one section. An unknown field is reported and left out, then
/// the section is decoded again, so its other fields are still checked
/// (every problem at once); any other error drops the section.
fn decode<T: DeserializeOwned>(value: Spanned<DeValue<'_>>, field: &str, problems: &mut Problems<'_>) -> Option<T> {
    let start = value.span().start;
    let mut value = value;
    // A section has far fewer fields than this.
    for _ in 0..64 {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(decoded) => return Some(decoded),
            Err(e) => {
                let at = e.span().map(|s| s.start).unwrap_or(start);
                problems.at(Some(at), field, e.message().trim());
                let unknown = e.message().starts_with("unknown field");
                match e.span() {
                    Some(span) if unknown && remove_key_at(&mut value, span.start) => continue,
                    _ => return None,
                }
            }
        }
    }
    None
}

/// Removes the key that starts at `offset`, wherever it is in `value`.
fn remove_key_at(value: &mut Spanned<DeValue<'_>>, offset: usize) -> bool {
    match value.get_mut() {
        DeValue::Table(table) => {
            let found = table.keys().find(|k| k.span().start == offset).cloned();
            if let Some(key) = found {
                table.remove(&key);
                return true;
            }
            table.iter_mut().any(|(_, v)| remove_key_at(v, offset))
        }
        DeValue::Array(items) => items.iter_mut().any(|v| remove_key_at(v, offset)),
        _ => false,
    }
}

pub(super) struct Checker<'p, 'a> {
    problems: &'p mut Problems<'a>,
    base: &'a Path,
}

impl Checker<'_, '_> {
    pub(super) fn config(&mut self, path: &Path, doc: Document) -> Config {
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
        let uses_default_balancer = doc.backends.iter().any(|(_, b)| {
            b.balancer
                .as_ref()
                .is_none_or(|name| name.get_ref() == DEFAULT_BALANCER)
        });
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

    pub(super) fn at_least_one(&mut self, value: &Option<Spanned<usize>>, field: &str, default: usize) -> usize {
        match value {
            None => default,
            Some(v) => {
                self.check(*v.get_ref() >= 1, v, field, "must be at least 1");
                (*v.get_ref()).max(1)
            }
        }
    }

    pub(super) fn size(&mut self, value: &Option<Spanned<String>>, field: &str) -> Option<usize> {
        let v = value.as_ref()?;
        match parse_size(v.get_ref()) {
            Ok(size) => Some(size),
            Err(e) => {
                self.problems.at(Some(v.span().start), field, e);
                None
            }
        }
    }

    pub(super) fn duration(&mut self, value: &Option<Spanned<String>>, field: &str, default: Duration) -> Duration {
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

    pub(super) fn existing_file(&mut self, path: &Spanned<String>, field: &str) -> Option<PathBuf> {
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

    pub(super) fn reference(&mut self, name: &Spanned<String>, known: &[&str], kind: &str, field: &str) {
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
    pub(super) fn check<T>(&mut self, ok: bool, value: &Spanned<T>, field: &str, message: impl Into<String>) -> bool {
        if !ok {
            self.problems.at(Some(value.span().start), field, message);
        }
        ok
    }

    pub(super) fn line_column(&self, offset: usize) -> (usize, usize) {
        line_column(self.problems.text(), offset)
    }
}

/// Helpers for the sections' unit tests.
#[cfg(test)]
pub(super) mod testing {
    use std::path::Path;

    use crate::config::{Config, Problem};

    /// Where test configurations claim to live (relative paths join it).
    pub const FILE: &str = "/etc/switchyard/test.toml";

    /// A minimal valid file the tests add sections to.
    pub const BASE: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{ name = "web1", address = "127.0.0.1:8001" }]
"#;

    /// `text` parsed; panics with the problems if it is invalid.
    pub fn valid(text: &str) -> Config {
        Config::parse(Path::new(FILE), text).unwrap_or_else(|e| panic!("valid configuration: {e}"))
    }

    /// The problems of `text` (which must have some).
    pub fn problems(text: &str) -> Vec<Problem> {
        match Config::parse(Path::new(FILE), text) {
            Ok(_) => panic!("expected problems in:\n{text}"),
            Err(e) => e.problems().to_vec(),
        }
    }

    /// The one problem of `text` at `field`; its line and message.
    pub fn problem_at(text: &str, field: &str) -> (usize, String) {
        let found = problems(text);
        let matching: Vec<&Problem> = found.iter().filter(|p| p.field == field).collect();
        match matching.as_slice() {
            [one] => (one.line, one.message.clone()),
            _ => panic!("expected one problem at {field}, got {found:#?}"),
        }
    }

    /// The 1-based line of the first line of `text` containing `needle`.
    pub fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("{needle:?} is not in the text"))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{problems, BASE};

    /// One bad value in each section: every one is reported, in file order,
    /// each at its own line.
    #[test]
    fn every_problem_at_once_in_file_order() {
        let text = format!(
            "[global]\nworkers = 0\n\n[admin]\ntoken = \"short\"\n{}\n[plugin.p]\nsource = \"builtin:noop\"\ntimeout = \"soon\"\n",
            BASE.replace("127.0.0.1:8001", "not an address")
        );
        let found = problems(&text);
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "global.workers",
                "admin.token",
                "backend.www.servers[0].address",
                "plugin.p.timeout"
            ],
            "{found:#?}"
        );
        let lines: Vec<usize> = found.iter().map(|p| p.line).collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
        assert!(found.iter().all(|p| p.file.ends_with("test.toml")));
    }

    /// An unknown field does not hide the other problems of its section.
    #[test]
    fn an_unknown_field_does_not_hide_the_rest_of_its_section() {
        let text =
            format!("{BASE}\n[plugin.p]\nsource = \"plugins/missing.wasm\"\ntimeout = \"fast\"\ncolour = \"blue\"\n");
        let found = problems(&text);
        let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            ["plugin.p.source", "plugin.p.timeout", "plugin.p"],
            "{found:#?}"
        );
        assert!(found[2].message.starts_with("unknown field `colour`"), "{found:#?}");
        let nested = BASE.replace(
            "default_backend = \"www\"",
            "default_backend = \"www\"\ntls = { cert = \"x.pem\", colour = 1 }",
        );
        let found = problems(&nested);
        assert!(
            found.iter().any(|p| p.message.starts_with("unknown field `colour`")),
            "{found:#?}"
        );
        assert!(
            found.iter().any(|p| p.field == "listener[0].tls.cert"),
            "the rest of tls is checked: {found:#?}"
        );
    }

    #[test]
    fn a_syntax_error_is_placed() {
        let found = problems("[[listener]\nname = 1");
        assert_eq!(found[0].line, 1, "{found:#?}");
    }
}
