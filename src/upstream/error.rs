//! What can go wrong between the proxy and a server.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to {address} took longer than {after:?}")]
    ConnectTimeout { address: SocketAddr, after: Duration },
    #[error("HTTP handshake with {address} failed: {source}")]
    Handshake {
        address: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("{address} failed before sending a response: {source}")]
    Exchange {
        address: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("the request could not be written to {address}: {source}")]
    NotSent {
        address: SocketAddr,
        #[source]
        source: hyper::Error,
    },
    #[error("{address} sent no response head within {after:?}")]
    ResponseTimeout { address: SocketAddr, after: Duration },
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

    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            UpstreamError::ConnectTimeout { .. } | UpstreamError::ResponseTimeout { .. }
        )
    }
}
