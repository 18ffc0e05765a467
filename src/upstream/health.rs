//! Active health checks, as HAProxy's `option httpchk`: every `interval`,
//! a fresh connection sends the configured request; `rise` consecutive
//! successes bring a server up, `fall` consecutive failures take it down.
//! Servers start up, as in HAProxy.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::backend::Backend;
use super::server::{AdminState, Server};
use crate::config::HealthCheckConfig;

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
        let mut successes = 0u32;
        let mut failures = 0u32;
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
                successes = 0;
            }
            // Maintenance: checks pause until the server is back in service.
            if self.server.admin_state() == AdminState::Maint {
                continue;
            }
            let started = Instant::now();
            let result = tokio::time::timeout(self.check.timeout, self.probe()).await;
            let result = result.unwrap_or_else(|_| Err(format!("no answer within {:?}", self.check.timeout)));
            let latency = started.elapsed();
            match result {
                Ok(status) => {
                    failures = 0;
                    successes = successes.saturating_add(1);
                    self.server.record_check(true, status, latency, successes, failures);
                    if !self.server.is_healthy() && successes >= self.check.rise {
                        self.server.set_healthy(true);
                        tracing::info!(backend = %self.backend, server = %self.server.name, ?latency, "server is up");
                    }
                }
                Err(reason) => {
                    successes = 0;
                    failures = failures.saturating_add(1);
                    self.server
                        .record_check(false, reason.clone(), latency, successes, failures);
                    if self.server.is_healthy() && failures >= self.check.fall {
                        self.server.set_healthy(false);
                        tracing::warn!(backend = %self.backend, server = %self.server.name, %reason, "server is down");
                    } else {
                        tracing::debug!(backend = %self.backend, server = %self.server.name, %reason, failures, "health check failed");
                    }
                }
            }
        }
    }

    /// One check: connect, send, expect the status (`status NNN`).
    async fn probe(&self) -> Result<String, String> {
        let address = self.server.address;
        let stream = TcpStream::connect(address).await.map_err(|e| format!("connect: {e}"))?;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let connection = tokio::spawn(connection);
        let host = self.check.host.clone().unwrap_or_else(|| address.to_string());
        let request = http::Request::builder()
            .method(self.check.method.clone())
            .uri(self.check.path.as_str())
            .header(http::header::HOST, host)
            .header(http::header::CONNECTION, "close")
            .header(http::header::USER_AGENT, "switchyard-health-check")
            .body(Empty::<bytes::Bytes>::new())
            .map_err(|e| format!("request: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("exchange: {e}"));
        connection.abort();
        let status = response?.status();
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

/// The longest a checker can take to notice a dead server: `fall` checks
/// `interval` apart, each up to `timeout` (for documentation and tests).
pub fn worst_case_detection(check: &HealthCheckConfig) -> Duration {
    (check.interval + check.timeout) * check.fall
}
