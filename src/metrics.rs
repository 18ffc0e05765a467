//! Prometheus metrics (prometheus-client, OpenMetrics text), served by the
//! admin endpoint at `/metrics`.
//!
//! One registry per process. The request path never looks a metric up by
//! its labels: listeners, servers and plugin versions take handles to
//! their own series when they are built (a handle is a shared atomic), so
//! counting a request is a few atomic adds.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The status classes requests are counted by.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The index in [`CLASSES`] of a status code.
pub fn class_index(status: http::StatusCode) -> usize {
    (usize::from(status.as_u16() / 100)).clamp(1, 5) - 1
}

/// Labels of the per-listener series: request duration and open connections.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerLabels {
    /// The listener's name.
    pub listener: String,
}

/// Labels of `requests`: listener and status class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerClassLabels {
    /// The listener's name.
    pub listener: String,
    /// One of [`CLASSES`].
    pub class: &'static str,
}

/// Who failed a request the proxy answered with an error, as
/// `proxy::Blame` names them (in its order).
pub const BLAMES: [&str; 4] = ["client", "plugin", "upstream", "proxy"];

/// Labels of `request_errors`: listener and who failed.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ListenerBlameLabels {
    /// The listener's name.
    pub listener: String,
    /// `client`, `plugin`, `upstream` or `proxy`.
    pub blame: &'static str,
}

/// Labels of `worker_connections`: the worker (see `worker.rs`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WorkerLabels {
    /// 0 to `workers` - 1.
    pub worker: String,
}

/// Labels tunnels closed by why they ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TunnelLabels {
    /// `closed`, `idle`, `shutdown` or `error`.
    pub reason: &'static str,
}

/// Labels of `retries`: the backend.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    /// The backend's name.
    pub backend: String,
}

/// Labels of `server_up`: backend and server.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerLabels {
    /// The backend's name.
    pub backend: String,
    /// The server's name within its backend.
    pub server: String,
}

/// Labels of `upstream_responses`: backend, server and status class.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServerClassLabels {
    /// The backend's name.
    pub backend: String,
    /// The server's name within its backend.
    pub server: String,
    /// One of [`CLASSES`].
    pub class: &'static str,
}

/// Labels of `upstream_errors`: backend, server and kind of failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    /// The backend's name.
    pub backend: String,
    /// The server's name within its backend.
    pub server: String,
    /// `connect`, `timeout` or `other`.
    pub kind: &'static str,
}

/// Labels of `server_transitions`: backend, server and the state entered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabels {
    /// The backend's name.
    pub backend: String,
    /// The server's name within its backend.
    pub server: String,
    /// `up` or `down`.
    pub to: &'static str,
}

/// Labels of `plugin_calls` and `plugin_call_duration_seconds`: a plugin version.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    /// The plugin's name.
    pub plugin: String,
    /// The component's short content hash.
    pub version: String,
}

/// Labels of `plugin_failures`: plugin version, kind of failure and policy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginFailureLabels {
    /// The plugin's name.
    pub plugin: String,
    /// The component's short content hash.
    pub version: String,
    /// `trap`, `timeout` or `out_of_memory`.
    pub kind: &'static str,
    /// The failure policy that decided the request: `fail-open` or
    /// `fail-closed`.
    pub policy: &'static str,
}

/// Labels of `certificate_expiry_timestamp_seconds`: listener and subject.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CertificateLabels {
    /// The listener serving the certificate.
    pub listener: String,
    /// The leaf certificate's subject (`CN=...`).
    pub subject: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~3.3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

fn plugin_histogram() -> Histogram {
    // 1 µs to ~33 ms.
    Histogram::new(exponential_buckets(0.000001, 2.0, 16))
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by listener and status class.
    pub requests: Family<ListenerClassLabels, Counter>,
    /// Requests the proxy answered with an error, by listener and who failed.
    pub request_errors: Family<ListenerBlameLabels, Counter>,
    /// Time from request head to response head, by listener (seconds).
    pub request_duration: HistogramFamily<ListenerLabels>,
    /// Client connections open, by listener.
    pub open_connections: Family<ListenerLabels, Gauge>,
    /// Requests being handled, all listeners together.
    pub in_flight: Gauge,
    /// Client connections accepted, by worker.
    pub worker_connections: Family<WorkerLabels, Counter>,
    /// Tunnels (upgraded connections) open now.
    pub tunnels_open: Gauge,
    /// Tunnels closed, by why.
    pub tunnels_closed: Family<TunnelLabels, Counter>,
    /// Responses from servers, by backend, server and status class.
    pub upstream_responses: Family<ServerClassLabels, Counter>,
    /// Failed attempts to a server, by kind: connect, timeout or other.
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    /// Further attempts after a failed one, by backend.
    pub retries: Family<BackendLabels, Counter>,
    /// Picks made while a backend was in panic (see `panic_threshold`).
    pub panic_picks: Family<BackendLabels, Counter>,
    /// 1 while a server is healthy, else 0.
    pub server_up: Family<ServerLabels, Gauge>,
    /// Health changes of a server, by the state entered.
    pub server_transitions: Family<TransitionLabels, Counter>,
    /// Calls into a plugin version.
    pub plugin_calls: Family<PluginLabels, Counter>,
    /// Instances of a plugin version started (instantiate + `init`).
    pub plugin_instances_started: Family<PluginLabels, Counter>,
    /// Requests given a plugin version's memoised decision (no call).
    pub plugin_memo_hits: Family<PluginLabels, Counter>,
    /// Wall time of a plugin call, one call in 16 sampled (seconds).
    pub plugin_call_duration: HistogramFamily<PluginLabels>,
    /// Failed plugin calls, by kind and the policy that decided the request.
    pub plugin_failures: Family<PluginFailureLabels, Counter>,
    /// Times the plugins' epoch clock parked for want of calls.
    pub plugin_epoch_parks: Counter,
    /// The configuration generation serving.
    pub generation: Gauge,
    /// When the certificate of each TLS listener expires (Unix time).
    pub certificate_expiry: Family<CertificateLabels, Gauge>,
    /// Access log lines written.
    pub access_log_lines: Counter,
    /// Access log lines dropped because the writer fell behind.
    pub access_log_dropped: Counter,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("switchyard");
        let m = Metrics {
            requests: Family::default(),
            request_errors: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            open_connections: Family::default(),
            in_flight: Gauge::default(),
            worker_connections: Family::default(),
            tunnels_open: Gauge::default(),
            tunnels_closed: Family::default(),
            upstream_responses: Family::default(),
            upstream_errors: Family::default(),
            retries: Family::default(),
            panic_picks: Family::default(),
            server_up: Family::default(),
            server_transitions: Family::default(),
            plugin_calls: Family::default(),
            plugin_instances_started: Family::default(),
            plugin_memo_hits: Family::default(),
            plugin_call_duration: Family::new_with_constructor(plugin_histogram),
            plugin_failures: Family::default(),
            plugin_epoch_parks: Counter::default(),
            generation: Gauge::default(),
            certificate_expiry: Family::default(),
            access_log_lines: Counter::default(),
            access_log_dropped: Counter::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "requests",
            "Requests answered, by listener and status class",
            m.requests.clone(),
        );
        r.register(
            "request_errors",
            "Requests the proxy answered with an error, by listener and who failed (client, plugin, upstream, proxy)",
            m.request_errors.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from the request head to the response head",
            m.request_duration.clone(),
        );
        r.register(
            "open_connections",
            "Client connections open",
            m.open_connections.clone(),
        );
        r.register("in_flight_requests", "Requests being handled", m.in_flight.clone());
        r.register(
            "worker_connections",
            "Client connections accepted, by worker (workers = N: N single-threaded runtimes)",
            m.worker_connections.clone(),
        );
        r.register(
            "tunnels_open",
            "Upgraded connections (WebSocket tunnels) open",
            m.tunnels_open.clone(),
        );
        r.register(
            "tunnels_closed",
            "Tunnels closed, by why: closed by a side, idle, shutdown, error",
            m.tunnels_closed.clone(),
        );
        r.register(
            "upstream_responses",
            "Responses from servers, by backend, server and status class",
            m.upstream_responses.clone(),
        );
        r.register(
            "upstream_errors",
            "Failed attempts to a server: connect, timeout or other",
            m.upstream_errors.clone(),
        );
        r.register("retries", "Further attempts after a failed one", m.retries.clone());
        r.register(
            "panic_picks",
            "Picks made while too few servers were up: servers down by passive health alone were tried anyway",
            m.panic_picks.clone(),
        );
        r.register("server_up", "1 while a server is healthy, else 0", m.server_up.clone());
        r.register(
            "server_transitions",
            "Health changes of a server, by the state entered",
            m.server_transitions.clone(),
        );
        r.register("plugin_calls", "Calls into a plugin version", m.plugin_calls.clone());
        r.register(
            "plugin_instances_started",
            "Instances of a plugin version started (instantiate and init); steadily rising means pool_size is below the calls at once",
            m.plugin_instances_started.clone(),
        );
        r.register(
            "plugin_memo_hits",
            "Requests given a plugin version's memoised decision without a call (contract 0.2 memo)",
            m.plugin_memo_hits.clone(),
        );
        r.register(
            "plugin_call_duration_seconds",
            "Wall time of a plugin call (sampled: one call in 16 of each instance)",
            m.plugin_call_duration.clone(),
        );
        r.register(
            "plugin_failures",
            "Failed plugin calls, by kind and the policy that decided the request",
            m.plugin_failures.clone(),
        );
        r.register(
            "plugin_epoch_parks",
            "Times the plugins' epoch clock (the deadline of every call) parked after 100 ms without a call",
            m.plugin_epoch_parks.clone(),
        );
        r.register(
            "generation",
            "The configuration generation serving",
            m.generation.clone(),
        );
        r.register(
            "certificate_expiry_timestamp_seconds",
            "When the certificate served by a listener expires (Unix time)",
            m.certificate_expiry.clone(),
        );
        r.register(
            "access_log_lines",
            "Access log lines written",
            m.access_log_lines.clone(),
        );
        r.register(
            "access_log_dropped",
            "Access log lines dropped because the writer fell behind",
            m.access_log_dropped.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        text
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A listener's handles: requests by class and the latency histogram.
#[derive(Clone, Debug)]
pub struct ListenerMetrics {
    /// Requests answered, by status class in the order of [`CLASSES`].
    pub requests: [Counter; 5],
    /// Errors by blame, in the order of [`BLAMES`].
    pub errors: [Counter; 4],
    /// Time from request head to response head (seconds).
    pub duration: Histogram,
    /// Client connections open on the listener.
    pub open_connections: Gauge,
}

impl ListenerMetrics {
    /// The handles of `listener`'s series, created on first use.
    pub fn new(listener: &str) -> ListenerMetrics {
        let m = metrics();
        ListenerMetrics {
            requests: CLASSES.map(|class| {
                m.requests
                    .get_or_create(&ListenerClassLabels {
                        listener: listener.to_string(),
                        class,
                    })
                    .clone()
            }),
            errors: BLAMES.map(|blame| {
                m.request_errors
                    .get_or_create(&ListenerBlameLabels {
                        listener: listener.to_string(),
                        blame,
                    })
                    .clone()
            }),
            duration: m
                .request_duration
                .get_or_create(&ListenerLabels {
                    listener: listener.to_string(),
                })
                .clone(),
            open_connections: m
                .open_connections
                .get_or_create(&ListenerLabels {
                    listener: listener.to_string(),
                })
                .clone(),
        }
    }
}

/// Counts a client connection as open for its life.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl OpenConnection {
    /// Counts one more connection on `gauge` until dropped.
    pub fn new(gauge: &Gauge) -> OpenConnection {
        gauge.inc();
        OpenConnection(gauge.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A server's handles.
#[derive(Clone, Debug)]
pub struct ServerMetrics {
    /// Responses, by status class in the order of [`CLASSES`].
    pub responses: [Counter; 5],
    /// Attempts that never reached the server (`kind="connect"`).
    pub connect_errors: Counter,
    /// Attempts that reached it and timed out (`kind="timeout"`).
    pub timeouts: Counter,
    /// Attempts that failed otherwise (`kind="other"`).
    pub other_errors: Counter,
    /// 1 while the server is healthy, else 0.
    pub up: Gauge,
    /// Times the server came up.
    pub went_up: Counter,
    /// Times the server went down.
    pub went_down: Counter,
}

impl ServerMetrics {
    /// The handles of `server`'s series in `backend`, created on first use.
    pub fn new(backend: &str, server: &str) -> ServerMetrics {
        let m = metrics();
        let error = |kind| {
            m.upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    backend: backend.to_string(),
                    server: server.to_string(),
                    kind,
                })
                .clone()
        };
        let transition = |to| {
            m.server_transitions
                .get_or_create(&TransitionLabels {
                    backend: backend.to_string(),
                    server: server.to_string(),
                    to,
                })
                .clone()
        };
        ServerMetrics {
            responses: CLASSES.map(|class| {
                m.upstream_responses
                    .get_or_create(&ServerClassLabels {
                        backend: backend.to_string(),
                        server: server.to_string(),
                        class,
                    })
                    .clone()
            }),
            connect_errors: error("connect"),
            timeouts: error("timeout"),
            other_errors: error("other"),
            up: m
                .server_up
                .get_or_create(&ServerLabels {
                    backend: backend.to_string(),
                    server: server.to_string(),
                })
                .clone(),
            went_up: transition("up"),
            went_down: transition("down"),
        }
    }
}

/// A plugin version's handles.
#[derive(Clone, Debug)]
pub struct PluginMetrics {
    /// Calls into this version.
    pub calls: Counter,
    /// Wall time of its sampled calls (seconds).
    pub duration: Histogram,
    /// Instances started.
    pub instances_started: Counter,
    /// Requests answered from the memo.
    pub memo_hits: Counter,
    plugin: String,
    version: String,
}

impl PluginMetrics {
    /// The handles of a plugin version's series; `version` is its short hash.
    pub fn new(plugin: &str, version: &str) -> PluginMetrics {
        let m = metrics();
        let labels = PluginLabels {
            plugin: plugin.to_string(),
            version: version.to_string(),
        };
        PluginMetrics {
            calls: m.plugin_calls.get_or_create(&labels).clone(),
            duration: m.plugin_call_duration.get_or_create(&labels).clone(),
            instances_started: m.plugin_instances_started.get_or_create(&labels).clone(),
            memo_hits: m.plugin_memo_hits.get_or_create(&labels).clone(),
            plugin: plugin.to_string(),
            version: version.to_string(),
        }
    }

    /// Counts a failed call (rare: looked up by labels).
    pub fn failed(&self, kind: &'static str, policy: &'static str) {
        metrics()
            .plugin_failures
            .get_or_create(&PluginFailureLabels {
                plugin: self.plugin.clone(),
                version: self.version.clone(),
                kind,
                policy,
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_exposition() {
        assert_eq!(class_index(http::StatusCode::OK), 1);
        assert_eq!(class_index(http::StatusCode::CONTINUE), 0);
        assert_eq!(class_index(http::StatusCode::SERVICE_UNAVAILABLE), 4);
        let listener = ListenerMetrics::new("unit-test");
        listener.requests[1].inc();
        let text = metrics().encode();
        assert!(
            text.contains(r#"switchyard_requests_total{listener="unit-test",class="2xx"} 1"#),
            "{text}"
        );
        assert!(text.contains("# TYPE switchyard_request_duration_seconds histogram"));
    }
}
