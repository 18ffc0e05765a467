//! The host side of the contract's imports (0.2; `compat.rs` answers 0.1's
//! with these): the `host` interface (log, configuration), the `shared`
//! interface (the plugin's namespace), and the `request`, `backend` and
//! `response-head` resources, read from the [`RequestView`],
//! [`CandidateView`] and [`ResponseView`] lent to the store for one call.
//!
//! [`ResponseView`]: super::response_view::ResponseView
//!
//! [`RequestView`]: super::request_view::RequestView
//! [`CandidateView`]: super::candidates::CandidateView

use std::time::Duration;

use wasmtime::component::Resource;
use wasmtime::Result;

use super::bindings::v2::switchyard::plugin::host::{self, Level};
use super::bindings::v2::switchyard::plugin::shared;
use super::bindings::v2::switchyard::plugin::types::{self, HostBackend, HostRequest, HostResponseHead, Scheme};
use super::bindings::{BackendHandle, RequestHandle, ResponseHandle};
use super::candidates::CandidateServer;
use super::request_view::{BufferedBody, RequestView};
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

    fn body(&mut self, _: Resource<RequestHandle>) -> Result<Option<Vec<u8>>> {
        let Some(limit) = self.body_limit else {
            return Ok(None);
        };
        let buffered = self.request()?.head.extensions.get::<BufferedBody>();
        Ok(Some(buffered.map_or_else(Vec::new, |b| {
            b.bytes[..b.bytes.len().min(limit)].to_vec()
        })))
    }

    fn body_complete(&mut self, _: Resource<RequestHandle>) -> Result<bool> {
        let Some(limit) = self.body_limit else {
            return Ok(false);
        };
        let buffered = self.request()?.head.extensions.get::<BufferedBody>();
        // No buffered body: the request has none (the host buffers before
        // calling a plugin that asked).
        Ok(buffered.is_none_or(|b| b.complete && b.bytes.len() <= limit))
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

impl HostResponseHead for PluginState {
    fn status(&mut self, _: Resource<ResponseHandle>) -> Result<u16> {
        Ok(self.response.status.as_u16())
    }

    fn header(&mut self, _: Resource<ResponseHandle>, name: String) -> Result<Option<Vec<u8>>> {
        Ok(self.response.headers.get(name.as_str()).map(|v| v.as_bytes().to_vec()))
    }

    fn header_all(&mut self, _: Resource<ResponseHandle>, name: String) -> Result<Vec<Vec<u8>>> {
        Ok(self
            .response
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect())
    }

    fn header_names(&mut self, _: Resource<ResponseHandle>) -> Result<Vec<String>> {
        Ok(self.response.headers.keys().map(|k| k.as_str().to_string()).collect())
    }

    fn generated(&mut self, _: Resource<ResponseHandle>) -> Result<bool> {
        Ok(self.response.generated)
    }

    fn backend(&mut self, _: Resource<ResponseHandle>) -> Result<Option<String>> {
        Ok(self.response.backend.as_deref().map(str::to_string))
    }

    fn server(&mut self, _: Resource<ResponseHandle>) -> Result<Option<String>> {
        Ok(self.response.server.as_deref().map(str::to_string))
    }

    fn blame(&mut self, _: Resource<ResponseHandle>) -> Result<Option<String>> {
        Ok(self.response.blame.map(str::to_string))
    }

    fn drop(&mut self, _: Resource<ResponseHandle>) -> Result<()> {
        Ok(())
    }
}
