//! A WebSocket echo server (tokio-tungstenite) for the tests: every text
//! and binary message comes back, pings get pongs (tungstenite answers
//! them), a close is answered; a handshake for a path under `/refuse` is
//! refused with 403. It counts the sockets open and keeps the handshake
//! heads it accepted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// A running echo server.
pub struct WsEcho {
    pub address: SocketAddr,
    /// Sockets open now.
    pub open: Arc<AtomicUsize>,
    /// The heads of the handshakes it accepted (method, path, headers).
    pub handshakes: Arc<Mutex<Vec<(String, String, http::HeaderMap)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WsEcho {
    pub async fn start() -> WsEcho {
        let listener = tokio::net::TcpListener::bind(super::ANY_PORT).await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(AtomicUsize::new(0));
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let (count, heads) = (Arc::clone(&open), Arc::clone(&handshakes));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (count, heads) = (Arc::clone(&count), Arc::clone(&heads));
                tokio::spawn(async move {
                    // tungstenite's callback type: its error is a whole response.
                    #[allow(clippy::result_large_err)]
                    let check = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
                        if request.uri().path().starts_with("/refuse") {
                            let mut refused = ErrorResponse::new(Some("no WebSocket for you\n".into()));
                            *refused.status_mut() = http::StatusCode::FORBIDDEN;
                            return Err(refused);
                        }
                        heads.lock().unwrap().push((
                            request.method().to_string(),
                            request.uri().path().to_string(),
                            request.headers().clone(),
                        ));
                        Ok(response)
                    };
                    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
                        return;
                    };
                    count.fetch_add(1, Ordering::SeqCst);
                    // Reading on after a close sends tungstenite's answer to
                    // it, then the stream ends.
                    while let Some(Ok(message)) = socket.next().await {
                        let echoed = matches!(message, Message::Text(_) | Message::Binary(_));
                        if echoed && socket.send(message).await.is_err() {
                            break;
                        }
                    }
                    count.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        WsEcho {
            address,
            open,
            handshakes,
            task,
        }
    }
}

impl Drop for WsEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}
