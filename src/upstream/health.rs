//! Active health checks, as HAProxy's `option httpchk`: every `interval`,
//! a fresh connection sends the configured request; `rise` consecutive
//! successes bring a server up, `fall` consecutive failures take it down.
//! Servers start up, as in HAProxy.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_util::sync::CancellationToken;

use super::backend::Backend;
use super::connect::Purpose;
use super::error::UpstreamError;
use super::server::{AdminState, Server};
use crate::config::HealthCheckConfig;
use crate::report::Report;

/// The running checkers, one per server of every backend that has checks,
/// kept in step with each generation: a kept server with unchanged check
/// settings keeps its checker (and its rise/fall counts); a new server or
/// new settings get a new checker; a removed server's checker stops.
#[derive(Default)]
pub struct HealthCheckers {
    running: Mutex<Vec<RunningCheck>>,
}

struct RunningCheck {
    server: Arc<Server>,
    check: HealthCheckConfig,
    stop: CancellationToken,
}

impl HealthCheckers {
    /// Runs a checker for every server of `backends` that has checks (and
    /// only those), each stopping with `shutdown`.
    pub fn sync(&self, backends: &[Arc<Backend>], shutdown: &CancellationToken) {
        let Ok(mut running) = self.running.lock() else { return };
        let mut next = Vec::new();
        for backend in backends {
            let Some(check) = &backend.config.health_check else {
                continue;
            };
            for server in &backend.servers {
                let same = |r: &RunningCheck| Arc::ptr_eq(&r.server, server) && &r.check == check;
                if let Some(position) = running.iter().position(same) {
                    next.push(running.swap_remove(position));
                    continue;
                }
                let stop = shutdown.child_token();
                let checker = Checker {
                    backend: Arc::clone(&backend.name),
                    server: Arc::clone(server),
                    check: check.clone(),
                };
                tokio::spawn(checker.run(stop.clone()));
                next.push(RunningCheck {
                    server: Arc::clone(server),
                    check: check.clone(),
                    stop,
                });
            }
        }
        for stale in running.drain(..) {
            stale.stop.cancel();
        }
        *running = next;
    }

    /// How many checkers run (for tests and the admin view).
    pub fn count(&self) -> usize {
        self.running.lock().map(|r| r.len()).unwrap_or(0)
    }
}

struct Checker {
    backend: Arc<str>,
    server: Arc<Server>,
    check: HealthCheckConfig,
}

impl Checker {
    async fn run(self, shutdown: CancellationToken) {
        let mut counts = Counts::default();
        let mut passive_downs = self.server.passive_downs();
        let mut ticker = tokio::time::interval(self.check.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
            }
            // Passive health took it down: `rise` successes count from now.
            if self.server.passive_downs() != passive_downs {
                passive_downs = self.server.passive_downs();
                counts.successes = 0;
            }
            // Maintenance: checks pause until the server is back in service.
            if self.server.admin_state() == AdminState::Maint {
                continue;
            }
            let started = Instant::now();
            let result = tokio::time::timeout(self.check.timeout, self.probe()).await;
            let result = result.unwrap_or_else(|_| Err(format!("no answer within {:?}", self.check.timeout)));
            let latency = started.elapsed();
            let ok = result.is_ok();
            // A success counts toward bringing it up from either kind of
            // down; a failure toward taking down what the checks hold up.
            let up = match ok {
                true => self.server.is_healthy(),
                false => self.server.actively_up(),
            };
            let change = counts.record(ok, up, &self.check);
            let detail = match result {
                Ok(status) => status,
                Err(reason) => reason,
            };
            self.server
                .record_check(ok, detail.clone(), latency, counts.successes, counts.failures);
            match change {
                Some(true) => {
                    self.server.set_healthy(true);
                    tracing::info!(backend = %self.backend, server = %self.server.name, ?latency, "server is up");
                }
                Some(false) => {
                    self.server.set_healthy(false);
                    tracing::warn!(backend = %self.backend, server = %self.server.name, reason = %detail, "server is down");
                }
                None if !ok => {
                    tracing::debug!(backend = %self.backend, server = %self.server.name, reason = %detail, failures = counts.failures, "health check failed");
                }
                None => {}
            }
        }
    }

    /// One check: connect, send, expect the status (`status NNN`).
    async fn probe(&self) -> Result<String, String> {
        let address = self.server.address;
        // The backend's own transport: its TLS and HTTP version.
        let connected = self
            .server
            .pool
            .connector()
            .connect(Purpose::Requests)
            .await
            .map_err(|e| match e {
                UpstreamError::Connect { source, .. } => format!("connect: {source}"),
                UpstreamError::ConnectTimeout { after, .. } => format!("connect: no answer within {after:?}"),
                other => format!("tls: {}", Report(&other)),
            })?;
        let host = self.check.host.clone().unwrap_or_else(|| address.to_string());
        let mut request = http::Request::builder()
            .method(self.check.method.clone())
            .header(http::header::USER_AGENT, "switchyard-health-check");
        let io = TokioIo::new(connected.transport);
        let response = if connected.http2 {
            let scheme = if self.server.pool.connector().tls.is_some() {
                "https"
            } else {
                "http"
            };
            request = request.uri(format!("{scheme}://{host}{}", self.check.path));
            let request = request
                .body(Empty::<bytes::Bytes>::new())
                .map_err(|e| format!("request: {e}"))?;
            let (mut sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            let connection = tokio::spawn(connection);
            let response = sender.send_request(request).await;
            connection.abort();
            response
        } else {
            request = request
                .uri(self.check.path.as_str())
                .header(http::header::HOST, host)
                .header(http::header::CONNECTION, "close");
            let request = request
                .body(Empty::<bytes::Bytes>::new())
                .map_err(|e| format!("request: {e}"))?;
            let (mut sender, connection) = http1::handshake(io).await.map_err(|e| format!("handshake: {e}"))?;
            let connection = tokio::spawn(connection);
            let response = sender.send_request(request).await;
            connection.abort();
            response
        };
        let status = response.map_err(|e| format!("exchange: {e}"))?.status();
        let healthy = match self.check.expect_status {
            Some(expected) => status == expected,
            None => status.is_success() || status.is_redirection(),
        };
        if healthy {
            Ok(format!("status {}", status.as_u16()))
        } else {
            Err(format!("status {status}"))
        }
    }
}

/// HAProxy's rise and fall counters: consecutive successes and failures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    successes: u32,
    failures: u32,
}

impl Counts {
    /// Counts one check; the server's new health when it changes: `rise`
    /// successes in a row bring a down server up, `fall` failures in a row
    /// take an up server down.
    fn record(&mut self, ok: bool, healthy: bool, check: &HealthCheckConfig) -> Option<bool> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            (!healthy && self.successes >= check.rise).then_some(true)
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            (healthy && self.failures >= check.fall).then_some(false)
        }
    }
}

/// The longest a checker can take to notice a dead server: `fall` checks
/// `interval` apart, each up to `timeout` (for documentation and tests).
pub fn worst_case_detection(check: &HealthCheckConfig) -> Duration {
    (check.interval + check.timeout) * check.fall
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{BackendConfig, Config};

    /// A backend whose one server's port refuses connections (nothing
    /// listens on port 1 of loopback): every probe fails at once.
    fn backend(check: &str) -> BackendConfig {
        let text = format!(
            "[[listener]]\nname = \"l\"\nbind = \"127.0.0.1:0\"\ndefault_backend = \"b\"\n\
             [backend.b]\nservers = [{{ name = \"s\", address = \"127.0.0.1:1\" }}]\nhealth_check = {check}\n"
        );
        let config = Config::parse(std::path::Path::new("t.toml"), &text).expect("valid");
        config.backends[0].clone()
    }

    #[test]
    fn rise_and_fall_count_consecutive_results_only() {
        let check = backend("{ rise = 2, fall = 3 }").health_check.expect("set");
        let mut counts = Counts::default();
        // Up: two failures are not enough, a success resets them.
        assert_eq!(counts.record(false, true, &check), None);
        assert_eq!(counts.record(false, true, &check), None);
        assert_eq!(counts.record(true, true, &check), None);
        assert_eq!(counts.record(false, true, &check), None);
        assert_eq!(counts.record(false, true, &check), None);
        assert_eq!(
            counts.record(false, true, &check),
            Some(false),
            "third failure in a row"
        );
        // Down: one success is not enough, a failure resets it.
        assert_eq!(counts.record(true, false, &check), None);
        assert_eq!(counts.record(false, false, &check), None);
        assert_eq!(counts.record(true, false, &check), None);
        assert_eq!(
            counts.record(true, false, &check),
            Some(true),
            "second success in a row"
        );
        assert_eq!(
            counts,
            Counts {
                successes: 2,
                failures: 0
            }
        );
    }

    /// The checker's timing on tokio's paused clock: checks `interval`
    /// apart, the first at once, so `fall = 3` takes the server down at the
    /// third check, 2 intervals after the start.
    #[tokio::test(start_paused = true)]
    async fn a_dead_server_goes_down_after_fall_intervals() {
        let config = backend("{ interval = \"2s\", timeout = \"1s\", rise = 2, fall = 3 }");
        let backend = Arc::new(Backend::new(&config));
        let checkers = HealthCheckers::default();
        let shutdown = CancellationToken::new();
        checkers.sync(std::slice::from_ref(&backend), &shutdown);
        assert_eq!(checkers.count(), 1);
        let server = Arc::clone(&backend.servers[0]);
        tokio::time::sleep(Duration::from_millis(3_900)).await;
        assert!(server.is_healthy(), "two failed checks (at 0 s and 2 s) leave it up");
        assert_eq!(server.last_check().map(|c| c.failures), Some(2));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!server.is_healthy(), "the third, at 4 s, takes it down");
        shutdown.cancel();
    }
}
