//! The admin endpoint (off unless `[admin]` is configured; loopback only):
//!
//! - `GET /status`: the reloader's [`SwapStatus`] as JSON: generation,
//!   each plugin's version and last error, certificates, last reload.
//! - `POST /reload`: re-read the configuration file, as SIGHUP does.
//!
//! [`SwapStatus`]: crate::reload::SwapStatus

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

use crate::reload::Reloader;

/// Serves the admin endpoint on `socket` until `shutdown`.
pub async fn serve(socket: TcpListener, reloader: Arc<Reloader>, shutdown: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
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
        let reloader = Arc::clone(&reloader);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let reloader = Arc::clone(&reloader);
                async move { Ok::<_, Infallible>(answer(&reloader, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(reloader: &Reloader, request: Request<Incoming>) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/status") => match serde_json::to_string_pretty(&reloader.status()) {
            Ok(json) => reply(StatusCode::OK, "application/json", json),
            Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", e.to_string()),
        },
        (&Method::POST, "/reload") => match reloader.reload_config("admin API").await {
            Ok(generation) => reply(
                StatusCode::OK,
                "text/plain",
                format!("generation {generation} serving\n"),
            ),
            Err(error) => reply(StatusCode::UNPROCESSABLE_ENTITY, "text/plain", format!("{error}\n")),
        },
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "GET /status or POST /reload\n".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}
