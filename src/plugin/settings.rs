//! A plugin's `config` table, prepared once per plugin version in the three
//! shapes the `host` interface offers: flattened entries, single lookups and
//! JSON.

use toml::Value;

/// A plugin version's `config` table, in the shapes `host` offers.
#[derive(Debug, Clone, Default)]
pub struct PluginSettings {
    entries: Vec<(String, String)>,
    json: String,
}

impl PluginSettings {
    /// Flattens and encodes `table`.
    pub fn new(table: &toml::Table) -> PluginSettings {
        let mut entries = Vec::new();
        for (key, value) in table {
            flatten(key.clone(), value, &mut entries);
        }
        let json = serde_json::to_string(table).unwrap_or_else(|_| "{}".to_string());
        PluginSettings { entries, json }
    }

    /// `host.config-get`: the value at a dotted key (`routes.api`, `allow.0`), as text.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// `host.config-entries`: every dotted key and its value as text, in file order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// `host.config-json`: the whole table as JSON.
    pub fn json(&self) -> &str {
        &self.json
    }
}

fn flatten(key: String, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => out.push((key, s.clone())),
        Value::Integer(i) => out.push((key, i.to_string())),
        Value::Float(f) => out.push((key, f.to_string())),
        Value::Boolean(b) => out.push((key, b.to_string())),
        Value::Datetime(d) => out.push((key, d.to_string())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(format!("{key}.{i}"), item, out);
            }
        }
        Value::Table(table) => {
            for (k, v) in table {
                flatten(format!("{key}.{k}"), v, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_flatten_to_dotted_keys_in_file_order() {
        let table: toml::Table = toml::from_str(
            r#"
            zeta = "last-declared-first"
            port = 8443
            on = true
            routes = { api = "api-backend", web = "www" }
            allow = ["10.0.0.0/8", "127.0.0.1/32"]
            "#,
        )
        .expect("valid TOML");
        let s = PluginSettings::new(&table);
        let keys: Vec<&str> = s.entries().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["zeta", "port", "on", "routes.api", "routes.web", "allow.0", "allow.1"]
        );
        assert_eq!(s.get("port"), Some("8443"));
        assert_eq!(s.get("on"), Some("true"));
        assert_eq!(s.get("routes.web"), Some("www"));
        assert_eq!(s.get("missing"), None);
        let json: serde_json::Value = serde_json::from_str(s.json()).expect("valid JSON");
        assert_eq!(json["routes"]["api"], "api-backend");
        assert_eq!(json["allow"][1], "127.0.0.1/32");
    }
}
