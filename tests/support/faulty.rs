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
