//! The admin endpoint (off unless `[admin]` is configured; loopback unless
//! a token is set; with a token, every request but the page's shell must
//! carry `Authorization: Bearer TOKEN`):
//!
//! - `GET /`: the status page (refreshes itself from `/api/state`).
//! - `GET /api/state`: listeners, backends and servers (health, operator
//!   state, last check, counts), plugins, certificates, generation, as JSON.
//! - `GET /metrics`: Prometheus metrics (OpenMetrics text).
//! - `POST /api/backends/B/servers/S/{ready,drain,maint}`: set a server's
//!   operator state, as HAProxy's `set server B/S state`.
//! - `POST /reload`: re-read the configuration file, as SIGHUP does.
//! - `GET /status`: the reloader's [`SwapStatus`] (what `switchyard status`
//!   prints).
//! - `GET /health`: 200 when this process can serve, 503 with the reasons
//!   when not (no token needed; see `health.rs`): for keepalived, cloud
//!   load balancers and Kubernetes probes, and `switchyard status --ready`.
//!
//! [`SwapStatus`]: crate::reload::SwapStatus

pub mod client;
mod health;
mod page;
mod state;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::metrics;
use crate::reload::Reloader;
use crate::upstream::AdminState;

pub use health::{readiness, Readiness};
pub use state::{state, ProxyState};

/// Serves the admin endpoint on `socket` until `shutdown`.
pub async fn serve(socket: TcpListener, reloader: Arc<Reloader>, token: Option<String>, shutdown: CancellationToken) {
    let token: Option<Arc<str>> = token.map(Arc::from);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = socket.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (reloader, token) = (Arc::clone(&reloader), token.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (reloader, token) = (Arc::clone(&reloader), token.clone());
                async move { Ok::<_, Infallible>(answer(&reloader, token.as_deref(), peer, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    reloader: &Reloader,
    token: Option<&str>,
    peer: std::net::SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    // The page's shell holds no data: it asks for the token itself. The
    // health answer says whether, not what: probes carry no token.
    let public = method == Method::GET && (path == "/" || path == "/health");
    if !public && !authorized(token, &request) {
        tracing::warn!(%peer, %method, %path, "admin request without a valid token refused");
        let mut response = reply(
            StatusCode::UNAUTHORIZED,
            "text/plain",
            "a valid bearer token is required\n".into(),
        );
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"switchyard\""),
        );
        return response;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, [""]) => reply(StatusCode::OK, "text/html; charset=utf-8", page::HTML.into()),
        (&Method::GET, ["api", "state"]) => json(&state(reloader)),
        (&Method::GET, ["status"]) => json(&reloader.status()),
        (&Method::GET, ["health"]) => {
            let readiness = readiness(reloader);
            let mut response = json(&readiness);
            if !readiness.ready {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            response
        }
        (&Method::GET, ["metrics"]) => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics().encode(),
        ),
        (&Method::POST, ["api", "backends", backend, "servers", server, action]) => {
            set_server_state(reloader, backend, server, action, peer)
        }
        (&Method::POST, ["reload"]) => match reloader.reload_config("admin API").await {
            Ok(generation) => reply(
                StatusCode::OK,
                "text/plain",
                format!("generation {generation} serving\n"),
            ),
            Err(error) => reply(
                StatusCode::UNPROCESSABLE_ENTITY,
                "text/plain",
                format!("{}\n", crate::report::Report(&error)),
            ),
        },
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "GET / | /api/state | /metrics | /status | /health; POST /reload | /api/backends/B/servers/S/{ready,drain,maint}\n"
                .into(),
        ),
    }
}

/// Whether the request carries the token (always, when none is set).
fn authorized(token: Option<&str>, request: &Request<Incoming>) -> bool {
    let Some(token) = token else { return true };
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    constant_time_eq(presented.as_bytes(), token.as_bytes())
}

/// Compares without revealing, by timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}

fn set_server_state(
    reloader: &Reloader,
    backend: &str,
    server: &str,
    action: &str,
    peer: std::net::SocketAddr,
) -> Response<Full<Bytes>> {
    let Some(state) = AdminState::parse(action) else {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("unknown state {action:?}: ready, drain or maint\n"),
        );
    };
    let generation = reloader.proxy().generation();
    let Some(found) = generation.backends.get(backend).and_then(|b| b.backend.server(server)) else {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("no server {server:?} in backend {backend:?}\n"),
        );
    };
    let previous = found.set_admin_state(state);
    tracing::info!(%backend, %server, from = ?previous, to = ?state, %peer, "server state set through the admin API");
    json(&serde_json::json!({
        "backend": backend,
        "server": server,
        "previous": previous,
        "state": state,
    }))
}

fn json(value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    match serde_json::to_string_pretty(value) {
        Ok(json) => reply(StatusCode::OK, "application/json", json),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", e.to_string()),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret-token-123", b"secret-token-123"));
        assert!(!constant_time_eq(b"secret-token-12", b"secret-token-123"));
        assert!(!constant_time_eq(b"secret-token-1234", b"secret-token-123"));
        assert!(!constant_time_eq(b"", b"secret-token-123"));
        assert!(!constant_time_eq(b"Secret-token-123", b"secret-token-123"));
    }
}
