//! A small origin web server, the lab's "web server" VMs in one task: it
//! names itself in its page and in an `x-served-by` header, answers
//! `GET /health` with 200, lists the request headers it received (so the
//! effect of plugins is visible), reads any request body to the end,
//! reporting its length and SHA-256, answers `/delay/MS` after MS
//! milliseconds, `/status/NNN` with that status and `/bytes/N` with a body
//! of N bytes. Used by `switchyard demo` and by the tests, which
//! can kill it (every connection dropped at once) and start it again on the
//! same address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A running origin. Dropping it kills it.
pub struct Origin {
    name: String,
    address: SocketAddr,
    hits: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Origin {
    /// Starts an origin on `address` (port 0 picks a free port).
    pub async fn start(name: &str, address: SocketAddr) -> std::io::Result<Origin> {
        let socket = TcpListener::bind(address).await?;
        let address = socket.local_addr()?;
        let hits = Arc::new(AtomicU64::new(0));
        let state = Arc::new(OriginState {
            name: name.to_string(),
            hits: Arc::clone(&hits),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let accept = tokio::spawn(accept_loop(socket, state, stopped));
        Ok(Origin {
            name: name.to_string(),
            address,
            hits,
            accept,
            stop: Some(stop),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its name, as its page and `x-served-by` show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests served, health checks excluded.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Stops at once: the listening socket and every open connection close,
    /// as when the process is killed. When it returns, they are closed: a
    /// request sent after it cannot be answered by a connection task that
    /// had not yet noticed its abort.
    pub async fn kill(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.accept).await;
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

struct OriginState {
    name: String,
    hits: Arc<AtomicU64>,
}

/// Owns every connection task: aborting this task drops them all; a stop
/// signal closes the socket and waits until every connection task is gone.
async fn accept_loop(socket: TcpListener, state: Arc<OriginState>, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    let http = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        tokio::select! {
            _ = &mut stop => {
                drop(socket);
                connections.shutdown().await;
                return;
            }
            accepted = socket.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                let http = Arc::clone(&http);
                connections.spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let service = service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, req).await) }
                    });
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn answer(state: &OriginState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() == "/health" {
        return page(state, StatusCode::OK, "text/plain", "ok\n".to_string());
    }
    // `/delay/MS`: answer after MS milliseconds (at most 60 s), for tests of
    // timeouts and in-flight limits.
    if let Some(ms) = request
        .uri()
        .path()
        .strip_prefix("/delay/")
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms.min(60_000))).await;
    }
    state.hits.fetch_add(1, Ordering::Relaxed);
    let path = request.uri().path().to_string();
    if let Some(size) = path.strip_prefix("/bytes/").and_then(|n| n.parse::<usize>().ok()) {
        let body: String = (0..size.min(64 << 20))
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        return page(state, StatusCode::OK, "text/plain", body);
    }
    let status = path
        .strip_prefix("/status/")
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut text = format!(
        "Served by {}\n{} {} {:?}\n",
        state.name,
        request.method(),
        request.uri(),
        request.version()
    );
    for (name, value) in request.headers() {
        text.push_str(&format!("{}: {}\n", name, String::from_utf8_lossy(value.as_bytes())));
    }
    let body = request.into_body().collect().await.map(|b| b.to_bytes());
    match body {
        Ok(bytes) => {
            text.push_str(&format!("body-bytes: {}\n", bytes.len()));
            text.push_str(&format!(
                "body-sha256: {}\n",
                crate::content_hash::ContentHash::of(&bytes)
            ));
        }
        Err(e) => text.push_str(&format!("body-error: {e}\n")),
    }
    page(state, status, "text/plain; charset=utf-8", text)
}

fn page(state: &OriginState, status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    if let Ok(name) = http::HeaderValue::from_str(&state.name) {
        response.headers_mut().insert("x-served-by", name);
    }
    response
}
