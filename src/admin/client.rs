//! The admin endpoint's client: what `switchyard status` fetches from a
//! running proxy and how it prints it.

use std::fmt::Write as _;
use std::net::SocketAddr;

use http_body_util::BodyExt;

use crate::content_hash::short;
use crate::reload::SwapStatus;

/// Why the status could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// Nothing answers at the address.
    #[error("cannot reach the admin endpoint at {address}")]
    Connect {
        /// The admin address.
        address: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("the admin endpoint at {address} did not answer")]
    Exchange {
        /// The admin address.
        address: SocketAddr,
        /// hyper's reason.
        #[source]
        source: hyper::Error,
    },
    /// The endpoint wants a token and none (or a wrong one) was given.
    #[error("the admin endpoint at {address} needs its token: pass --token, SWITCHYARD_ADMIN_TOKEN or -c with the configuration")]
    Unauthorized {
        /// The admin address.
        address: SocketAddr,
    },
    /// No whole answer within [`ANSWER_TIMEOUT`].
    #[error("the admin endpoint at {address} did not answer within 2 s")]
    Timeout {
        /// The admin address.
        address: SocketAddr,
    },
    /// It answered something else than a status.
    #[error("unexpected answer from the admin endpoint at {address}")]
    Answer {
        /// The admin address.
        address: SocketAddr,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// The longest a status or health query waits (a keepalived check script
/// must not hang on a stuck process).
pub const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /status` from the admin endpoint at `address`, with the bearer
/// `token` when the endpoint needs one.
pub async fn fetch_status(address: SocketAddr, token: Option<&str>) -> Result<SwapStatus, StatusError> {
    let (_, body) = get(address, "/status", token).await?;
    serde_json::from_slice(&body).map_err(|source| StatusError::Answer { address, source })
}

/// `GET /health`: whether the proxy at `address` is ready (its answer is
/// JSON both when it is, 200, and when it is not, 503).
pub async fn fetch_readiness(address: SocketAddr) -> Result<super::Readiness, StatusError> {
    let (_, body) = get(address, "/health", None).await?;
    serde_json::from_slice(&body).map_err(|source| StatusError::Answer { address, source })
}

/// One GET, bounded by [`ANSWER_TIMEOUT`]: its status and body.
async fn get(
    address: SocketAddr,
    path: &'static str,
    token: Option<&str>,
) -> Result<(http::StatusCode, bytes::Bytes), StatusError> {
    tokio::time::timeout(ANSWER_TIMEOUT, exchange(address, path, token))
        .await
        .unwrap_or(Err(StatusError::Timeout { address }))
}

async fn exchange(
    address: SocketAddr,
    path: &'static str,
    token: Option<&str>,
) -> Result<(http::StatusCode, bytes::Bytes), StatusError> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|source| StatusError::Connect { address, source })?;
    let exchange = |source| StatusError::Exchange { address, source };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(exchange)?;
    tokio::spawn(connection);
    let mut request = http::Request::new(http_body_util::Empty::<bytes::Bytes>::new());
    *request.uri_mut() = http::Uri::from_static(path);
    if let Ok(host) = http::HeaderValue::from_str(&address.to_string()) {
        request.headers_mut().insert(http::header::HOST, host);
    }
    if let Some(token) = token {
        if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
            request.headers_mut().insert(http::header::AUTHORIZATION, value);
        }
    }
    let response = sender.send_request(request).await.map_err(exchange)?;
    let status = response.status();
    if status == http::StatusCode::UNAUTHORIZED {
        return Err(StatusError::Unauthorized { address });
    }
    let body = response.into_body().collect().await.map_err(exchange)?.to_bytes();
    Ok((status, body))
}

/// The readiness as `switchyard status --ready` prints it.
pub fn render_readiness(readiness: &super::Readiness) -> String {
    match readiness.ready {
        true => format!("ready (generation {})\n", readiness.generation),
        false => {
            let mut text = format!("not ready (generation {}):\n", readiness.generation);
            for reason in &readiness.reasons {
                let _ = writeln!(text, "  {reason}");
            }
            text
        }
    }
}

/// A moment as `2026-12-02 18:20:01 UTC (4m ago)`.
fn moment(at: u64, now: u64) -> String {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(at);
    let text = humantime::format_rfc3339_seconds(when).to_string();
    let text = text.replacen('T', " ", 1).replacen('Z', " UTC", 1);
    format!("{text} ({} ago)", ago(now.saturating_sub(at)))
}

/// Seconds as the two largest units: `12s`, `4m 5s`, `3h 20m`, `2d 4h`.
fn ago(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// The status as `switchyard status` prints it; `now` in seconds since
/// the Unix epoch.
pub fn render_status(status: &SwapStatus, now: u64) -> String {
    let mut out = format!("generation {} from {}\n", status.generation, status.config_file);
    if let Some(running) = &status.in_progress {
        let _ = writeln!(
            out,
            "reload in progress ({}, since {}): plugins compiling",
            running.cause,
            moment(running.since, now)
        );
    }
    if let Some(last) = &status.last_reload {
        let outcome = match (&last.published, &last.error) {
            (Some(g), _) => format!("published generation {g}"),
            (None, Some(e)) => format!("REJECTED, generation {} keeps serving:\n{e}", status.generation),
            (None, None) => "REJECTED".into(),
        };
        let _ = writeln!(out, "last reload ({}, {}): {outcome}", last.cause, moment(last.at, now));
    }
    out.push_str("plugins:\n");
    for p in &status.plugins {
        let _ = writeln!(
            out,
            "  {:<20} {} sha256:{} since generation {}",
            p.name,
            p.source,
            short(&p.hash),
            p.since_generation
        );
        if let Some(e) = &p.last_error {
            let version = p
                .rejected_hash
                .as_deref()
                .map_or_else(String::new, |h| format!(" sha256:{}", short(h)));
            let _ = writeln!(out, "    last rejected version{version}: {e}");
        }
    }
    for c in &status.certificates {
        let _ = writeln!(out, "certificate {}: sha256:{}", c.listener, short(&c.fingerprint));
        if let Some(e) = &c.last_error {
            let _ = writeln!(out, "    last rejected: {e}");
        }
    }
    out
}

/// Whether the last reload was rejected: `switchyard status` then exits
/// with [`REJECTED_EXIT`], so a deploy script can tell.
pub fn last_reload_rejected(status: &SwapStatus) -> bool {
    status.last_reload.as_ref().is_some_and(|r| r.published.is_none())
}

/// `switchyard status`'s exit code when the last reload was rejected.
pub const REJECTED_EXIT: u8 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reload::{PluginStatus, ReloadRecord};

    #[test]
    fn status_shows_versions_by_their_short_hash_and_the_rejection() {
        let status = SwapStatus {
            generation: 3,
            config_file: "/etc/switchyard.toml".into(),
            last_reload: Some(ReloadRecord {
                at: 1,
                cause: "SIGHUP".into(),
                published: None,
                error: Some("  plugin.x: not a valid Wasm component".into()),
            }),
            plugins: vec![PluginStatus {
                name: "router".into(),
                source: "router.wasm".into(),
                hash: "0123456789abcdef0123".into(),
                since_generation: 2,
                last_error: Some("init rejected the configuration: no routes".into()),
                rejected_hash: Some("fedcba9876543210fedc".into()),
            }],
            certificates: Vec::new(),
            in_progress: Some(crate::reload::InProgress {
                cause: "plugin file changed".into(),
                since: 1_796_233_000,
            }),
        };
        let text = render_status(&status, 1_796_233_012);
        assert!(text.starts_with("generation 3 from /etc/switchyard.toml\n"), "{text}");
        assert!(
            text.contains("last reload (SIGHUP, 1970-01-01 00:00:01 UTC (20789d 17h ago))"),
            "a readable time: {text}"
        );
        assert!(
            text.contains("REJECTED, generation 3 keeps serving:\n  plugin.x"),
            "{text}"
        );
        assert!(
            text.contains("reload in progress (plugin file changed, since 2026-12-02 17:36:40 UTC (12s ago))"),
            "{text}"
        );
        assert!(last_reload_rejected(&status));
        assert_eq!(ago(59), "59s");
        assert_eq!(ago(61), "1m 1s");
        assert_eq!(ago(3_600 * 5 + 61), "5h 1m");
        assert!(text.contains("sha256:0123456789ab since generation 2"), "{text}");
        assert!(!text.contains("0123456789abc"), "12 digits only: {text}");
        assert!(
            text.contains("last rejected version sha256:fedcba987654: init rejected"),
            "{text}"
        );
    }
}
