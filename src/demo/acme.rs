//! A stand-in for certbot's standalone HTTP-01 responder (port 9876 in the
//! lab): `GET /.well-known/acme-challenge/TOKEN` answers `TOKEN.THUMBPRINT`,
//! anything else 404, so the demo shows challenges reaching it through the
//! proxy on both listeners.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

const PREFIX: &str = "/.well-known/acme-challenge/";
/// What certbot would append: the account key's thumbprint.
pub const THUMBPRINT: &str = "switchyard-demo-account-thumbprint";

/// A running ACME stand-in. Dropping it stops it.
pub struct AcmeResponder {
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl AcmeResponder {
    /// Starts a stand-in on `address` (port 0 picks a free port).
    pub async fn start(address: SocketAddr) -> std::io::Result<AcmeResponder> {
        let socket = TcpListener::bind(address).await?;
        let address = socket.local_addr()?;
        let task = tokio::spawn(async move {
            let http = auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((stream, _)) = socket.accept().await else {
                    continue;
                };
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    Ok::<_, Infallible>(answer(req.uri().path()))
                });
                let serving = http.serve_connection(TokioIo::new(stream), service).into_owned();
                tokio::spawn(serving);
            }
        });
        Ok(AcmeResponder { address, task })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for AcmeResponder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(path: &str) -> Response<Full<Bytes>> {
    let (status, body) = match path.strip_prefix(PREFIX) {
        Some(token) if !token.is_empty() && !token.contains('/') => (StatusCode::OK, format!("{token}.{THUMBPRINT}")),
        _ => (StatusCode::NOT_FOUND, "not a challenge\n".to_string()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("x-served-by", http::HeaderValue::from_static("acme-standin"));
    response
}
