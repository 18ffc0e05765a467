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

/// `GET /status` from the admin endpoint at `address`.
pub async fn fetch_status(address: SocketAddr) -> Result<SwapStatus, StatusError> {
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|source| StatusError::Connect { address, source })?;
    let exchange = |source| StatusError::Exchange { address, source };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(exchange)?;
    tokio::spawn(connection);
    let mut request = http::Request::new(http_body_util::Empty::<bytes::Bytes>::new());
    *request.uri_mut() = http::Uri::from_static("/status");
    if let Ok(host) = http::HeaderValue::from_str(&address.to_string()) {
        request.headers_mut().insert(http::header::HOST, host);
    }
    let response = sender.send_request(request).await.map_err(exchange)?;
    let body = response.into_body().collect().await.map_err(exchange)?.to_bytes();
    serde_json::from_slice(&body).map_err(|source| StatusError::Answer { address, source })
}

/// The status as `switchyard status` prints it.
pub fn render_status(status: &SwapStatus) -> String {
    let mut out = format!("generation {} from {}\n", status.generation, status.config_file);
    if let Some(last) = &status.last_reload {
        let outcome = match (&last.published, &last.error) {
            (Some(g), _) => format!("published generation {g}"),
            (None, Some(e)) => format!("rejected:\n{e}"),
            (None, None) => "rejected".into(),
        };
        let _ = writeln!(out, "last reload ({}, at {}): {outcome}", last.cause, last.at);
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
            let _ = writeln!(out, "    last rejected version: {e}");
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
            }],
            certificates: Vec::new(),
        };
        let text = render_status(&status);
        assert!(text.starts_with("generation 3 from /etc/switchyard.toml\n"), "{text}");
        assert!(
            text.contains("last reload (SIGHUP, at 1): rejected:\n  plugin.x"),
            "{text}"
        );
        assert!(text.contains("sha256:0123456789ab since generation 2"), "{text}");
        assert!(!text.contains("0123456789abc"), "12 digits only: {text}");
        assert!(text.contains("last rejected version: init rejected"), "{text}");
    }
}
