//! The host side of the contract's imports: the `host` interface (log,
//! configuration), the `shared` interface (the plugin's namespace), and the
//! `request` and `backend` resources, read from the [`RequestView`] and
//! [`CandidateView`] lent to the store for one call.
//!
//! [`RequestView`]: super::request_view::RequestView
//! [`CandidateView`]: super::candidates::CandidateView

use std::time::Duration;

use wasmtime::component::Resource;
use wasmtime::Result;

use super::bindings::switchyard::plugin::host::{self, Level};
use super::bindings::switchyard::plugin::shared;
use super::bindings::switchyard::plugin::types::{self, HostBackend, HostRequest, Scheme};
use super::bindings::{BackendHandle, RequestHandle};
use super::candidates::CandidateServer;
use super::request_view::RequestView;
use super::state::PluginState;

impl PluginState {
    fn request(&self) -> Result<&RequestView> {
        Ok(&self.request)
    }
}

impl host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) -> Result<()> {
        let plugin = self.identity.name.as_str();
        let version = self.identity.version.as_str();
        match level {
            Level::Trace => {
                tracing::trace!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Debug => {
                tracing::debug!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Info => {
                tracing::info!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Warn => {
                tracing::warn!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
            Level::Error => {
                tracing::error!(target: "switchyard::plugin::guest", plugin, version, "{message}")
            }
        }
        Ok(())
    }

    fn config_get(&mut self, key: String) -> Result<Option<String>> {
        Ok(self.identity.settings.get(&key).map(str::to_string))
    }

    fn config_entries(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self.identity.settings.entries().to_vec())
    }

    fn config_json(&mut self) -> Result<String> {
        Ok(self.identity.settings.json().to_string())
    }
}

impl types::Host for PluginState {}

impl shared::Host for PluginState {
    // While a Redis-backed namespace cannot reach Redis these fail: the
    // call traps and the plugin's `on_error` policy decides the request.
    fn counter_add(&mut self, name: String, delta: i64, ttl_ms: u64) -> Result<i64> {
        Ok(self
            .identity
            .shared
            .counter_add(&name, delta, Duration::from_millis(ttl_ms))?)
    }

    fn counter_get(&mut self, name: String) -> Result<i64> {
        Ok(self.identity.shared.counter_get(&name)?)
    }

    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        Ok(self.identity.shared.get(&key)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> Result<()> {
        Ok(self.identity.shared.set(&key, value, Duration::from_millis(ttl_ms))?)
    }

    fn delete(&mut self, key: String) -> Result<()> {
        Ok(self.identity.shared.delete(&key)?)
    }
}

impl HostRequest for PluginState {
    fn method(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.head.method.as_str().to_string())
    }

    fn scheme(&mut self, _: Resource<RequestHandle>) -> Result<Scheme> {
        Ok(self.request()?.conn.scheme.into())
    }

    fn authority(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.authority().map(str::to_string))
    }

    fn path(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.head.uri.path().to_string())
    }

    fn query(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.head.uri.query().map(str::to_string))
    }

    fn header(&mut self, _: Resource<RequestHandle>, name: String) -> Result<Option<Vec<u8>>> {
        let headers = &self.request()?.head.headers;
        Ok(headers.get(name.as_str()).map(|v| v.as_bytes().to_vec()))
    }

    fn header_all(&mut self, _: Resource<RequestHandle>, name: String) -> Result<Vec<Vec<u8>>> {
        let headers = &self.request()?.head.headers;
        Ok(headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect())
    }

    fn header_names(&mut self, _: Resource<RequestHandle>) -> Result<Vec<String>> {
        let headers = &self.request()?.head.headers;
        Ok(headers.keys().map(|k| k.as_str().to_string()).collect())
    }

    fn client_addr(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.conn.client.to_string())
    }

    fn listener(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.conn.listener.to_string())
    }

    fn local_port(&mut self, _: Resource<RequestHandle>) -> Result<u16> {
        Ok(self.request()?.conn.local.port())
    }

    fn version(&mut self, _: Resource<RequestHandle>) -> Result<String> {
        Ok(self.request()?.version_name().to_string())
    }

    fn upgrade(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.upgrade().map(|u| u.protocol.clone()))
    }

    fn tls_server_name(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.conn.server_name.as_deref().map(str::to_string))
    }

    fn alpn(&mut self, _: Resource<RequestHandle>) -> Result<Option<String>> {
        Ok(self.request()?.conn.alpn.map(str::to_string))
    }

    fn drop(&mut self, _: Resource<RequestHandle>) -> Result<()> {
        // Handles are borrows of the host's request: nothing to free.
        Ok(())
    }
}

impl PluginState {
    fn candidate(&self, index: u32) -> Result<&CandidateServer> {
        let servers = &self.candidates.servers;
        servers
            .get(index as usize)
            .ok_or_else(|| wasmtime::format_err!("candidate index {index} out of range (there are {})", servers.len()))
    }
}

impl HostBackend for PluginState {
    fn name(&mut self, _: Resource<BackendHandle>) -> Result<String> {
        Ok(self.candidates.backend.to_string())
    }

    fn server_name(&mut self, _: Resource<BackendHandle>, index: u32) -> Result<String> {
        Ok(self.candidate(index)?.name.to_string())
    }

    fn server_address(&mut self, _: Resource<BackendHandle>, index: u32) -> Result<String> {
        Ok(self.candidate(index)?.address.to_string())
    }

    fn drop(&mut self, _: Resource<BackendHandle>) -> Result<()> {
        Ok(())
    }
}
