//! The plugin's `config` table from the proxy's configuration, read in
//! `init`: single values by dotted key, typed, with errors that name the
//! setting.

use std::fmt::Display;
use std::str::FromStr;

use crate::host;

/// One setting as text (`routes.api`, `allow.0`); numbers and booleans in
/// TOML notation.
pub fn get(key: &str) -> Option<String> {
    host::config_get(key)
}

/// One setting parsed as `T`; `Err` names the setting and the value
/// (return it from `init` as it is).
pub fn parse<T>(key: &str) -> Result<Option<T>, String>
where
    T: FromStr,
    T::Err: Display,
{
    match host::config_get(key) {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|e| format!("{key} = {text:?}: {e}")),
    }
}

/// One setting parsed as `T`, or `default` when it is absent.
pub fn parse_or<T>(key: &str, default: T) -> Result<T, String>
where
    T: FromStr,
    T::Err: Display,
{
    Ok(parse(key)?.unwrap_or(default))
}

/// A required setting as text; `Err` says it is missing.
pub fn require(key: &str) -> Result<String, String> {
    host::config_get(key).ok_or_else(|| format!("{key}: required"))
}

/// Every setting, flattened with dotted keys, in the file's order.
pub fn entries() -> Vec<(String, String)> {
    host::config_entries()
}

/// The entries under `prefix.` with the prefix taken off
/// (`routes.api` -> `api` for `prefix = "routes"`).
pub fn table(prefix: &str) -> Vec<(String, String)> {
    let dotted = format!("{prefix}.");
    host::config_entries()
        .into_iter()
        .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|rest| (rest.to_string(), v)))
        .collect()
}

/// The whole table as a JSON object.
pub fn json() -> String {
    host::config_json()
}
