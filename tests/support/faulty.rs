//! Servers that misbehave on purpose.

use std::net::SocketAddr;
use std::sync::Arc;

use super::ANY_PORT;

/// A server that accepts connections and never answers (nor closes them).
pub struct BlackHole {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    pub async fn start() -> BlackHole {
        let socket = tokio::net::TcpListener::bind(ANY_PORT).await.unwrap();
        let address = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = socket.accept().await {
                held.push(stream);
            }
        });
        BlackHole { address, task }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A server that accepts connections and closes them at once, counting
/// them: every request to it fails after the connection was made.
pub struct Closer {
    pub address: SocketAddr,
    pub accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Closer {
    pub async fn start() -> Closer {
        let socket = tokio::net::TcpListener::bind(ANY_PORT).await.unwrap();
        let address = socket.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        Closer {
            address,
            accepted,
            task,
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A keep-alive HTTP/1.1 server answering every request with one status
/// and an `x-served-by` header, counting the requests.
pub struct FixedStatus {
    pub address: SocketAddr,
    pub requests: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FixedStatus {
    pub async fn start(name: &'static str, status: u16) -> FixedStatus {
        use http_body_util::Full;
        let socket = tokio::net::TcpListener::bind(ANY_PORT).await.unwrap();
        let address = socket.local_addr().unwrap();
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |_request| {
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let response = http::Response::builder()
                            .status(status)
                            .header("x-served-by", name)
                            .body(Full::new(bytes::Bytes::from_static(b"fixed\n")))
                            .unwrap();
                        async move { Ok::<_, std::convert::Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FixedStatus {
            address,
            requests,
            task,
        }
    }
}

impl Drop for FixedStatus {
    fn drop(&mut self) {
        self.task.abort();
    }
}
