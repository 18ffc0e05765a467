//! Contract 0.1 (`switchyard:plugin@0.1.1`, which also serves components
//! built against 0.1.0) under this host: its generated types turned into
//! the host's own, and its imports answered by the 0.2 implementations in
//! `imports.rs`, which are a superset. A 0.1 component sees exactly what it
//! saw before 0.2 existed.

use wasmtime::component::Resource;
use wasmtime::Result;

use super::bindings::v1::exports::switchyard::plugin::{balancer, request_hook};
use super::bindings::v1::switchyard::plugin::{host, shared, types};
use super::bindings::v2::switchyard::plugin as v2;
use super::bindings::{BackendHandle, RequestHandle};
use super::candidates::CandidateView;
use super::decision::{Action, Choice, Decision, DirectResponse, Header, HeaderOp, Interest, Scheme};
use super::state::PluginState;

fn header(header: types::Header) -> Header {
    Header {
        name: header.name,
        value: header.value,
    }
}

fn edits(ops: Vec<types::HeaderOp>) -> Vec<HeaderOp> {
    ops.into_iter()
        .map(|op| match op {
            types::HeaderOp::Set(h) => HeaderOp::Set(header(h)),
            types::HeaderOp::Append(h) => HeaderOp::Append(header(h)),
            types::HeaderOp::Remove(name) => HeaderOp::Remove(name),
        })
        .collect()
}

impl From<request_hook::Decision> for Decision {
    fn from(decision: request_hook::Decision) -> Decision {
        let action = match decision.action {
            request_hook::Action::Continue => Action::Continue,
            request_hook::Action::Route(backend) => Action::Route(backend),
            request_hook::Action::Respond(response) => Action::Respond(DirectResponse {
                status: response.status,
                headers: response.headers.into_iter().map(header).collect(),
                body: response.body,
            }),
        };
        Decision {
            action,
            request_headers: edits(decision.request_headers).into(),
            response_headers: edits(decision.response_headers).into(),
        }
    }
}

impl From<balancer::Choice> for Choice {
    fn from(choice: balancer::Choice) -> Choice {
        Choice {
            server: choice.server,
            response_headers: edits(choice.response_headers),
        }
    }
}

impl From<request_hook::Interest> for Interest {
    fn from(interest: request_hook::Interest) -> Interest {
        Interest {
            schemes: interest
                .schemes
                .into_iter()
                .map(|s| match s {
                    types::Scheme::Http => Scheme::Http,
                    types::Scheme::Https => Scheme::Https,
                })
                .collect(),
            path_prefixes: interest.path_prefixes,
        }
    }
}

/// The eager part of the candidates, as a 0.1 balancer receives it.
pub(crate) fn candidate_records(view: &CandidateView) -> Vec<balancer::Candidate> {
    view.servers
        .iter()
        .map(|s| balancer::Candidate {
            key: s.key,
            weight: s.weight,
            healthy: s.healthy,
            in_flight: s.in_flight,
        })
        .collect()
}

impl host::Host for PluginState {
    fn log(&mut self, level: host::Level, message: String) -> Result<()> {
        let level = match level {
            host::Level::Trace => v2::host::Level::Trace,
            host::Level::Debug => v2::host::Level::Debug,
            host::Level::Info => v2::host::Level::Info,
            host::Level::Warn => v2::host::Level::Warn,
            host::Level::Error => v2::host::Level::Error,
        };
        v2::host::Host::log(self, level, message)
    }

    fn config_get(&mut self, key: String) -> Result<Option<String>> {
        v2::host::Host::config_get(self, key)
    }

    fn config_entries(&mut self) -> Result<Vec<(String, String)>> {
        v2::host::Host::config_entries(self)
    }

    fn config_json(&mut self) -> Result<String> {
        v2::host::Host::config_json(self)
    }
}

impl shared::Host for PluginState {
    fn counter_add(&mut self, name: String, delta: i64, ttl_ms: u64) -> Result<i64> {
        v2::shared::Host::counter_add(self, name, delta, ttl_ms)
    }

    fn counter_get(&mut self, name: String) -> Result<i64> {
        v2::shared::Host::counter_get(self, name)
    }

    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>> {
        v2::shared::Host::get(self, key)
    }

    fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: u64) -> Result<()> {
        v2::shared::Host::set(self, key, value, ttl_ms)
    }

    fn delete(&mut self, key: String) -> Result<()> {
        v2::shared::Host::delete(self, key)
    }
}

impl types::Host for PluginState {}

/// The same borrowed handle, as the 0.2 implementation takes it.
fn same(handle: &Resource<RequestHandle>) -> Resource<RequestHandle> {
    Resource::new_borrow(handle.rep())
}

impl types::HostRequest for PluginState {
    fn method(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        v2::types::HostRequest::method(self, same(&r))
    }

    fn scheme(&mut self, r: Resource<RequestHandle>) -> Result<types::Scheme> {
        Ok(match v2::types::HostRequest::scheme(self, same(&r))? {
            v2::types::Scheme::Http => types::Scheme::Http,
            v2::types::Scheme::Https => types::Scheme::Https,
        })
    }

    fn authority(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        v2::types::HostRequest::authority(self, same(&r))
    }

    fn path(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        v2::types::HostRequest::path(self, same(&r))
    }

    fn query(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        v2::types::HostRequest::query(self, same(&r))
    }

    fn header(&mut self, r: Resource<RequestHandle>, name: String) -> Result<Option<Vec<u8>>> {
        v2::types::HostRequest::header(self, same(&r), name)
    }

    fn header_all(&mut self, r: Resource<RequestHandle>, name: String) -> Result<Vec<Vec<u8>>> {
        v2::types::HostRequest::header_all(self, same(&r), name)
    }

    fn header_names(&mut self, r: Resource<RequestHandle>) -> Result<Vec<String>> {
        v2::types::HostRequest::header_names(self, same(&r))
    }

    fn client_addr(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        v2::types::HostRequest::client_addr(self, same(&r))
    }

    fn listener(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        v2::types::HostRequest::listener(self, same(&r))
    }

    fn local_port(&mut self, r: Resource<RequestHandle>) -> Result<u16> {
        v2::types::HostRequest::local_port(self, same(&r))
    }

    fn version(&mut self, r: Resource<RequestHandle>) -> Result<String> {
        v2::types::HostRequest::version(self, same(&r))
    }

    fn upgrade(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        v2::types::HostRequest::upgrade(self, same(&r))
    }

    fn tls_server_name(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        v2::types::HostRequest::tls_server_name(self, same(&r))
    }

    fn alpn(&mut self, r: Resource<RequestHandle>) -> Result<Option<String>> {
        v2::types::HostRequest::alpn(self, same(&r))
    }

    fn drop(&mut self, _: Resource<RequestHandle>) -> Result<()> {
        Ok(())
    }
}

impl types::HostBackend for PluginState {
    fn name(&mut self, b: Resource<BackendHandle>) -> Result<String> {
        v2::types::HostBackend::name(self, b)
    }

    fn server_name(&mut self, b: Resource<BackendHandle>, index: u32) -> Result<String> {
        v2::types::HostBackend::server_name(self, b, index)
    }

    fn server_address(&mut self, b: Resource<BackendHandle>, index: u32) -> Result<String> {
        v2::types::HostBackend::server_address(self, b, index)
    }

    fn drop(&mut self, _: Resource<BackendHandle>) -> Result<()> {
        Ok(())
    }
}
