//! Switchyard: a reverse proxy and load balancer whose every decision is
//! made by a WebAssembly plugin.
//!
//! # Module map
//!
//! - [`config`]: a TOML file turned into validated domain types; every
//!   problem reported at once with file, line and field. Owns every
//!   settings type.
//! - [`plugin`]: the wasmtime host. One engine, compiled components,
//!   pooled long-lived instances with a deadline and a memory cap on every
//!   call, the `request` resource plugins query, request chains and
//!   balancers with their failure policy. The contract's generated types
//!   stay inside it; the rest of the crate sees its own types
//!   ([`plugin::Decision`], [`plugin::HeaderOp`], [`plugin::Scheme`]...).
//! - [`proxy`]: request orchestration, the one module that knows plugins,
//!   backends and servers together; header work; fallbacks; errors become
//!   responses in one place, with their [`proxy::Blame`].
//! - [`upstream`]: backends, servers (health, in-flight counts), keep-alive
//!   connection pools, active health checks. Knows servers, not plugins.
//! - [`listener`], [`tls`]: accepting within connection limits, TLS
//!   termination, HTTP/1.1 and HTTP/2 with the listener's limits, draining
//!   on shutdown, `SO_REUSEPORT` for restarts.
//! - [`body`]: request bodies on their way to a server; [`tunnel`]:
//!   upgraded connections (WebSocket), which outlive generations.
//! - [`prepare`], [`running`]: check everything a configuration needs, then
//!   bind and serve; [`worker`]: thread per core, N single-threaded
//!   runtimes each with its own `SO_REUSEPORT` sockets and upstream pools.
//! - [`reload`]: hot swap of plugins, configuration and certificates on file
//!   change or SIGHUP, each published as a new generation.
//! - [`admin`]: the admin endpoint (status page, JSON API, server drain) and
//!   its client (`switchyard status`); [`metrics`], [`access_log`].
//! - [`content_hash`], [`report`], [`log_throttle`]: the names of versions
//!   and certificates, errors shown with their causes, warnings a flood
//!   would repeat; [`header_names`]: a connection's cache of header names;
//!   [`fields`]: a response's fields outside its map (a server's as read,
//!   a memoised plugin response's written once); [`deadline`]: a timeout
//!   moved per request without the timer wheel; [`in_place`]: a future
//!   boxed where it is built, not copied in.
//! - [`scaffold`]: `switchyard plugin new`; [`demo`]: the lab on loopback;
//!   [`allocator`]: mimalloc as the process's allocator.
//!
//! # The life of a request
//!
//! This is the one description of it: the README and [`proxy`] link here.
//! Each phase names where it happens.
//!
//! ```text
//!  accept (max_connections) ─► TLS (ALPN h2 | http/1.1) ─► HTTP/1.1 | HTTP/2        listener
//!     span connection{client listener}; heads read within header_read_timeout,
//!     max_header_bytes, max_headers (close / 431 / 400 from hyper); HTTP/1.1
//!     by our own server (listener/http1) until a request with a body, an
//!     upgrade or a head it does not take cleanly hands the connection to hyper's
//!        │ every request in its own span request{id listener backend server plugin}
//!        ▼
//!  1 admit     a request id; a place under max_in_flight (else 503); pin the
//!              current generation (lock-free); head checks (400); a declared
//!              body over max_body (413); an upgrade (Connection: upgrade +
//!              Upgrade, or an HTTP/2 extended CONNECT) and a gRPC call (its
//!              grpc-timeout) are noted                           Proxy::begin, admit
//!        ▼
//!  2 hooks     the body the hooks read first (body-hook: their largest
//!              max-bytes, within header_read_timeout; over it 413 | skip |
//!              truncate)                                         proxy/read_ahead.rs
//!              the listener's request hooks, in order, each skipped unless its
//!              interest matches: continue | route(B) | respond(R) | ask(A),
//!              header edits accumulate; a failed call: fail-open skips it,
//!              fail-closed refuses with its status               plugin::RequestChain
//!              ask(A): A is sent to its backend (4-5 below, no fallback) within
//!              ask_timeout, max_asks_per_request; the reply goes to the
//!              plugin's on-reply, whose decision counts as its own proxy/ask.rs
//!              1 and 2 run without a future: what they answer is done there
//!              (a memoised redirect); a request that waits for its body, an
//!              ask or a server goes on in a future               Proxy::begin, finish
//!        ├── respond, refuse, unknown backend, no route ───────────────────► 6
//!        ▼ route(B), or the listener's default backend when all continue
//!  3 prepare   the head for the server: plugin edits, hop-by-hop headers
//!              removed, X-Forwarded-For, Host from :authority, x-request-id;
//!              an upgrade takes a place under max_tunnels (else 503) and gets
//!              its Connection/Upgrade back (an extended CONNECT becomes an
//!              RFC 6455 GET)                                     prepare_upstream_head, upgrade
//!        ▼
//!  4 balance   the backend's balancer picks among the servers not tried yet
//!              (name, address, weight, health, in-flight, sequence); a failed
//!              call: fail-closed refuses (► 6), fail-open asks the builtin
//!              round-robin                                       plugin::Balancer
//!        ▼
//!  5 exchange  a connection to the server (TCP, TLS with SNI and resumption;
//!              HTTP/1.1, or HTTP/2 by protocol or ALPN) carries the request:
//!              an idle HTTP/1.1 one, a stream of a shared HTTP/2 one (a new
//!              connection past h2_max_streams), a new HTTP/1.1 one for an
//!              upgrade; shaped for its version (te: trailers for HTTP/2); the
//!              wait for the head bounded by response_timeout and grpc-timeout
//!              ├── no connection / handed back unsent ──► 4, body untouched
//!              ├── refused by an HTTP/2 server (REFUSED_STREAM, GOAWAY),
//!              │     replayable ──► a new connection, same server
//!              ├── failed before a response head, idempotent and bodiless ──► 4
//!              │     (at most `retries` more, within the retry budget; every
//!              │      outcome feeds passive health)              proxy/forward.rs
//!              └── no server reached ──► fallback_backend F: 4 on F, once
//!                                    └─► fallback_plugin P: its respond ──► 6
//!                                                                proxy/fallback.rs
//!        ▼
//!  6 respond   hop-by-hop headers removed (from an HTTP/1.1 server's head by
//!              our client as it reads it, which keeps the server's fields in
//!              a list beside the map: our HTTP/1.1 server writes them from
//!              there as the server spelled them; edits, hooks, upgrades,
//!              asks and HTTP/2 move them into the map first), response
//!              edits applied (the chain's,
//!              then the balancer's); an error becomes its response in one place,
//!              503 / 502 / 504 / 413 / 400 / the plugin's status, naming the
//!              request id (for gRPC: a trailers-only grpc-status), its blame
//!              recorded                                          Proxy::forward, fail
//!              an upgrade answered 101: the client gets 101 (200 for an
//!              extended CONNECT) and a tunnel copies bytes both ways until a
//!              side closes, tunnel_idle_timeout, or shutdown's grace ends
//!                                                                proxy/upgrade.rs, tunnel
//!        ▼
//!  6b response hooks  the listener's response hooks, in reverse order, on
//!              a server's response or the proxy's own error, each only for the
//!              statuses its interest names: edits, or a replacement (not on a
//!              plugin's respond or a tunnel)                     proxy/response_hooks.rs
//!        ▼
//!  7 account   metrics (status class, duration, errors by blame), the access-log
//!              line; the body streams back and its connection returns to the
//!              pool when it has been read to the end             Proxy::handle, upstream
//! ```
//!
//! Beside requests: one health checker task per server, one thread that
//! advances the Wasm epoch so every plugin call meets its deadline (parked
//! while no call runs), one file watcher that hot-swaps plugins,
//! configuration and certificates.

// What must not run on a runtime thread (clippy.toml); unit tests may block.
#![cfg_attr(not(test), warn(clippy::disallowed_methods))]

pub mod access_log;
pub mod admin;
pub mod allocator;
pub mod body;
pub mod config;
pub mod content_hash;
pub mod deadline;
pub mod demo;
pub mod fields;
pub mod header_names;
pub mod in_place;
pub mod listener;
pub mod log_throttle;
pub mod metrics;
pub mod plugin;
pub mod plugin_test;
pub mod prepare;
pub mod proxy;
pub mod reload;
pub mod report;
pub mod running;
pub mod scaffold;
pub mod tls;
pub mod tunnel;
pub mod upstream;
pub mod worker;
