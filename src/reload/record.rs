//! What the reloader records of each change: log lines naming what was
//! published or rejected (plugin, file, content hash, the generation that
//! keeps serving), the status served by the admin endpoint, the generation
//! metric.

use std::collections::HashMap;
use std::sync::Arc;

use super::status::{now, PluginStatus, ReloadRecord, SwapStatus};
use super::Reloader;
use crate::config::{Config, PluginSource, Problem};
use crate::content_hash::ContentHash;
use crate::proxy::Generation;

impl Reloader {
    pub(super) fn log_swaps(&self, before: &Generation, after: &Generation) {
        for plugin in &after.config.plugins {
            let Some(version) = after.plugins.get(&plugin.name) else {
                continue;
            };
            let kept = before
                .plugins
                .get(&plugin.name)
                .is_some_and(|old| Arc::ptr_eq(old, version));
            if !kept {
                tracing::info!(
                    plugin = %plugin.name,
                    file = %plugin.source,
                    hash = %version.hash().short(),
                    generation = after.number,
                    "plugin version now serving"
                );
            }
        }
    }

    /// `hashes`: the content hash of each rejected plugin's file, by name.
    pub(super) fn log_rejection(
        &self,
        config: &Config,
        problems: &[Problem],
        hashes: &HashMap<String, String>,
        keeps: u64,
        cause: &str,
    ) {
        for problem in problems {
            let plugin = plugin_named_by(problem).and_then(|name| config.plugin(name));
            match plugin {
                Some(plugin) => tracing::warn!(
                    plugin = %plugin.name,
                    file = %plugin.source,
                    hash = %hashes.get(&plugin.name).map_or("?", String::as_str),
                    generation = keeps,
                    cause,
                    "plugin rejected, generation {keeps} keeps serving: {}",
                    problem.message
                ),
                None => tracing::warn!(
                    generation = keeps,
                    cause,
                    "change rejected, generation {keeps} keeps serving: {problem}"
                ),
            }
        }
    }

    pub(super) fn record_published(&self, generation: &Generation, before: Option<&Generation>, cause: &str) {
        crate::metrics::metrics().generation.set(generation.number as i64);
        self.with_status(|s| {
            let previous = std::mem::take(&mut s.plugins);
            s.generation = generation.number;
            s.plugins = generation
                .config
                .plugins
                .iter()
                .filter_map(|p| {
                    let version = generation.plugins.get(&p.name)?;
                    let kept = before
                        .and_then(|b| b.plugins.get(&p.name))
                        .is_some_and(|old| Arc::ptr_eq(old, version));
                    let earlier = previous.iter().find(|old| old.name == p.name);
                    let since = match earlier {
                        Some(old) if kept => old.since_generation,
                        _ => generation.number,
                    };
                    Some(PluginStatus {
                        name: p.name.clone(),
                        source: p.source.to_string(),
                        hash: version.hash().to_string(),
                        since_generation: since,
                        last_error: None,
                        rejected_hash: None,
                    })
                })
                .collect();
            s.last_reload = Some(ReloadRecord {
                at: now(),
                cause: cause.to_string(),
                published: Some(generation.number),
                error: None,
            });
        });
    }

    /// `hashes`: the content hash of each rejected plugin's file, by name.
    pub(super) fn record_rejection(
        &self,
        cause: &str,
        message: &str,
        problems: &[Problem],
        hashes: &HashMap<String, String>,
    ) {
        self.with_status(|s| {
            for problem in problems {
                if let Some(name) = plugin_named_by(problem) {
                    if let Some(p) = s.plugins.iter_mut().find(|p| p.name == name) {
                        p.last_error = Some(problem.message.clone());
                        p.rejected_hash = hashes.get(name).cloned();
                    }
                }
            }
            s.last_reload = Some(ReloadRecord {
                at: now(),
                cause: cause.to_string(),
                published: None,
                error: Some(message.to_string()),
            });
        });
    }

    pub(super) fn with_status(&self, change: impl FnOnce(&mut SwapStatus)) {
        if let Ok(mut status) = self.status.lock() {
            change(&mut status);
        }
    }
}

/// `plugin.NAME` or `plugin.NAME.field` → `NAME`.
pub(super) fn plugin_named_by(problem: &Problem) -> Option<&str> {
    let rest = problem.field.strip_prefix("plugin.")?;
    Some(rest.split('.').next().unwrap_or(rest))
}

/// The short content hash of every plugin file `problems` name, as the files
/// are on disk now. Reads them: call it off the runtime.
pub(super) fn rejected_hashes(config: &Config, problems: &[Problem]) -> HashMap<String, String> {
    problems
        .iter()
        .filter_map(|p| plugin_named_by(p).and_then(|name| config.plugin(name)))
        .map(|plugin| (plugin.name.clone(), source_hash(&plugin.source)))
        .collect()
}

#[allow(clippy::disallowed_methods)] // Off the runtime: see rejected_hashes.
fn source_hash(source: &PluginSource) -> String {
    match source {
        PluginSource::File(path) => std::fs::read(path)
            .map(|b| ContentHash::of(&b).short())
            .unwrap_or_else(|e| format!("unreadable ({e})")),
        PluginSource::Builtin(_) => "builtin".into(),
    }
}
