//! What can go wrong between the proxy and a server. Messages name the
//! server's address and leave the cause to `#[source]`.

use std::net::SocketAddr;
use std::time::Duration;

/// One attempt to a server that did not give a response head.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The TCP connection was refused or failed.
    #[error("cannot connect to {address}")]
    Connect {
        /// The server.
        address: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection took longer than `connect_timeout`.
    #[error("connecting to {address} took longer than {after:?}")]
    ConnectTimeout {
        /// The server.
        address: SocketAddr,
        /// The backend's `connect_timeout`.
        after: Duration,
    },
    /// The TLS handshake failed: a certificate that does not verify, a
    /// name it does not cover, a client certificate refused...
    #[error("TLS with {address} (as {name:?}) failed")]
    Tls {
        /// The server.
        address: SocketAddr,
        /// The name it was asked to prove.
        name: String,
        /// rustls's reason, inside an I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An upgrade (WebSocket) was routed to a backend that speaks HTTP/2
    /// only: upgrades need HTTP/1.1.
    #[error("{address} speaks HTTP/2 only (protocol = \"h2\" or \"h2c\"): an upgrade needs HTTP/1.1")]
    UpgradeOverHttp2 {
        /// The server.
        address: SocketAddr,
    },
    /// The HTTP connection could not be set up.
    #[error("HTTP handshake with {address} failed")]
    Handshake {
        /// The server.
        address: SocketAddr,
        /// hyper's reason.
        #[source]
        source: hyper::Error,
    },
    /// The server failed after the request was (perhaps partly) sent.
    #[error("{address} failed before sending a response")]
    Exchange {
        /// The server.
        address: SocketAddr,
        /// The client's reason.
        #[source]
        source: ExchangeError,
    },
    /// The HTTP/2 connection ended while the request waited for its
    /// answer, and hyper never reported the stream's fate (seen after a
    /// server's GOAWAY): the server may or may not have taken it.
    #[error("the HTTP/2 connection to {address} ended without answering the request")]
    ConnectionLost {
        /// The server.
        address: SocketAddr,
    },
    /// The request was handed back unsent.
    #[error("the request could not be written to {address}")]
    NotSent {
        /// The server.
        address: SocketAddr,
        /// The client's reason.
        #[source]
        source: ExchangeError,
    },
    /// The client's own deadline (a gRPC call's `grpc-timeout`) passed
    /// before the response head: not the server's fault.
    #[error("{address} sent no response head within the call's deadline of {after:?}")]
    CallDeadline {
        /// The server.
        address: SocketAddr,
        /// The deadline.
        after: Duration,
    },
    /// No response head within `response_timeout`.
    #[error("{address} sent no response head within {after:?}")]
    ResponseTimeout {
        /// The server.
        address: SocketAddr,
        /// The backend's `response_timeout`.
        after: Duration,
    },
}

/// Why an exchange failed, in the words of the client that carried it:
/// our HTTP/1.1 client, or hyper's (HTTP/2, upgrades).
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// From our HTTP/1.1 client.
    #[error(transparent)]
    Http1(#[from] super::http1::Http1Error),
    /// From hyper's client.
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    /// No response head within the response timeout (either client).
    #[error("no response head within {0:?}")]
    TimedOut(std::time::Duration),
}

impl UpstreamError {
    /// True when nothing of the request reached the server (no connection,
    /// or the request was never written): always safe to try another.
    pub fn never_reached_server(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect { .. }
                | UpstreamError::ConnectTimeout { .. }
                | UpstreamError::Tls { .. }
                | UpstreamError::Handshake { .. }
                | UpstreamError::NotSent { .. }
        )
    }

    /// Whether the server is to blame (passive health counts it): not when
    /// the client's own deadline ran out first.
    pub fn counts_against_server(&self) -> bool {
        !matches!(self, UpstreamError::CallDeadline { .. })
    }

    /// A TLS handshake that failed (the proxy answers 502, not 503: the
    /// server was reached and did not prove who it is).
    pub fn is_tls(&self) -> bool {
        matches!(self, UpstreamError::Tls { .. })
    }

    /// Whether another server may be tried after this failure. A request
    /// that never reached a server always may; one that may have reached
    /// it only when it is `replayable` (idempotent, no body), and never
    /// after a response timeout (the server may still be working on it).
    pub fn may_retry(&self, replayable: bool) -> bool {
        if matches!(self, UpstreamError::UpgradeOverHttp2 { .. }) {
            return false;
        }
        self.never_reached_server() || (replayable && !self.is_timeout())
    }

    /// A connect or response timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            UpstreamError::ConnectTimeout { .. }
                | UpstreamError::ResponseTimeout { .. }
                | UpstreamError::CallDeadline { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real hyper error: a request to a server that closes at once.
    async fn hyper_error() -> hyper::Error {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let request = http::Request::new(http_body_util::Empty::<bytes::Bytes>::new());
        sender.send_request(request).await.expect_err("the server closed")
    }

    #[tokio::test]
    async fn the_retry_matrix() {
        let address: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let after = Duration::from_secs(1);
        let errors = [
            (
                UpstreamError::Connect {
                    address,
                    source: std::io::Error::other("refused"),
                },
                (true, true),
            ),
            (UpstreamError::ConnectTimeout { address, after }, (true, true)),
            (
                UpstreamError::Tls {
                    address,
                    name: "x".into(),
                    source: std::io::Error::other("bad certificate"),
                },
                (true, true),
            ),
            // Every server of the backend speaks HTTP/2: no retry helps.
            (UpstreamError::UpgradeOverHttp2 { address }, (false, false)),
            (
                UpstreamError::Handshake {
                    address,
                    source: hyper_error().await,
                },
                (true, true),
            ),
            (
                UpstreamError::NotSent {
                    address,
                    source: hyper_error().await.into(),
                },
                (true, true),
            ),
            // It may have reached the server: only a replayable request.
            (
                UpstreamError::Exchange {
                    address,
                    source: hyper_error().await.into(),
                },
                (true, false),
            ),
            // The server may still be working on it: never.
            (UpstreamError::ResponseTimeout { address, after }, (false, false)),
            (UpstreamError::CallDeadline { address, after }, (false, false)),
        ];
        for (error, (replayable, not_replayable)) in errors {
            assert_eq!(error.may_retry(true), replayable, "{error} (replayable)");
            assert_eq!(error.may_retry(false), not_replayable, "{error} (not replayable)");
        }
    }
}
