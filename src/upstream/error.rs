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
        /// hyper's reason.
        #[source]
        source: hyper::Error,
    },
    /// The request was handed back unsent.
    #[error("the request could not be written to {address}")]
    NotSent {
        /// The server.
        address: SocketAddr,
        /// hyper's reason.
        #[source]
        source: hyper::Error,
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

impl UpstreamError {
    /// True when nothing of the request reached the server (no connection,
    /// or the request was never written): always safe to try another.
    pub fn never_reached_server(&self) -> bool {
        matches!(
            self,
            UpstreamError::Connect { .. }
                | UpstreamError::ConnectTimeout { .. }
                | UpstreamError::Handshake { .. }
                | UpstreamError::NotSent { .. }
        )
    }

    /// A connect or response timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            UpstreamError::ConnectTimeout { .. } | UpstreamError::ResponseTimeout { .. }
        )
    }
}
