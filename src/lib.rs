//! Switchyard: a reverse proxy and load balancer whose every decision is
//! made by a WebAssembly plugin.
//!
//! # Module map
//!
//! - [`config`]: a TOML file turned into validated domain types; every
//!   problem reported at once with file, line and field.
//! - [`plugin`]: the wasmtime host. One engine, compiled components,
//!   pooled long-lived instances with a deadline and a memory cap on every
//!   call, the `request` resource plugins query, request chains.
//! - [`proxy`]: request orchestration, the one module that knows plugins,
//!   backends and servers together; header work; errors become responses in
//!   one place.
//! - [`upstream`]: backends, servers (health, in-flight counts), keep-alive
//!   connection pools, active health checks. Knows servers, not plugins.
//! - [`listener`], [`tls`]: accepting within connection limits, TLS
//!   termination, HTTP/1.1 and HTTP/2 with the listener's limits, draining
//!   on shutdown, `SO_REUSEPORT` for restarts.
//! - [`body`]: the single body type of both directions.
//! - [`prepare`], [`running`]: check everything a configuration needs, then
//!   bind and serve.
//! - [`reload`]: hot swap of plugins, configuration and certificates on file
//!   change or SIGHUP, each published as a new generation.
//! - [`admin`]: the admin endpoint (status as JSON, reload).
//! - [`log_throttle`]: warnings a flood would repeat, once a second.
//! - [`demo`]: the lab on loopback (origins, ACME stand-in, certificates).
//!
//! # The life of a request
//!
//! 1. A [`listener`] accepts the connection (within `max_connections`),
//!    terminates TLS (ALPN `h2` or `http/1.1`), reads heads within the
//!    listener's time and size limits, and hands each request to
//!    [`proxy::Proxy::handle`].
//! 2. The request gets an id, a place under `max_in_flight` (else 503), and
//!    pins the current [`proxy::Generation`] (configuration and plugins)
//!    without a lock. Its head is checked (one `Host`, agreeing with the
//!    target's authority; a declared body within `max_body`).
//! 3. The listener's request hooks run in order ([`plugin::RequestChain`]):
//!    each continues, routes to a backend or responds; header edits
//!    accumulate. Routing or responding ends the chain; if all continue,
//!    the listener's default backend is used.
//! 4. A direct response is answered at once, with the response edits.
//! 5. Otherwise the head is prepared for the server: plugin edits,
//!    hop-by-hop headers removed, `X-Forwarded-For` appended, `Host` made
//!    from `:authority` for HTTP/2 clients.
//! 6. The backend's balancer plugin picks a server among candidates that
//!    carry name, address, weight, health and in-flight count.
//! 7. A pooled keep-alive connection (or a new one) carries the request.
//!    A connection that cannot be made sends the request to another server
//!    untouched; an idempotent request without a body that fails before any
//!    response is replayed on another server; retries stop when the
//!    backend's retry budget is spent; every outcome feeds the server's
//!    passive health; when no server can be reached, the backend's fallback
//!    (another backend, or a plugin's response) answers.
//! 8. The response streams back with hop-by-hop headers removed and the
//!    response edits applied; its connection returns to the pool when the
//!    body has been read to the end.
//!
//! Beside requests: one health checker task per server, one thread that
//! advances the Wasm epoch so every plugin call meets its deadline.

pub mod access_log;
pub mod admin;
pub mod body;
pub mod config;
pub mod demo;
pub mod listener;
pub mod log_throttle;
pub mod metrics;
pub mod plugin;
pub mod prepare;
pub mod proxy;
pub mod reload;
pub mod running;
pub mod scaffold;
pub mod tls;
pub mod upstream;
