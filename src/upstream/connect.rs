//! Reaching a server: a TCP connection within `connect_timeout`, then, for
//! backends with `tls`, a TLS handshake (SNI, verification, ALPN, session
//! resumption from the backend's cache), which also settles the HTTP
//! version for `protocol = "auto"`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::error::UpstreamError;
use crate::config::UpstreamProtocol;
use crate::tls::UpstreamTls;

/// How to reach one server.
#[derive(Debug, Clone)]
pub struct Connector {
    /// The server.
    pub address: SocketAddr,
    /// The HTTP version its backend speaks.
    pub protocol: UpstreamProtocol,
    /// TLS, when the backend has it, and the name the server is verified by.
    pub tls: Option<(Arc<UpstreamTls>, ServerName<'static>)>,
    /// The backend's `connect_timeout` (also bounds the TLS handshake).
    pub timeout: Duration,
}

/// What a new connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Requests, in whatever version the backend speaks.
    Requests,
    /// An upgrade (WebSocket): HTTP/1.1 only.
    Upgrade,
}

/// A connection to a server, plain or TLS.
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

/// A transport and the HTTP version to speak on it.
pub struct Connected {
    /// The connection.
    pub transport: Transport,
    /// HTTP/2 (negotiated by ALPN, or `h2c`), else HTTP/1.1.
    pub http2: bool,
}

impl Connector {
    /// The server name TLS sends and verifies: the backend's
    /// `tls.server_name`, else the host the server was written with, else
    /// its IP address.
    pub fn server_name(tls: &UpstreamTls, host: Option<&str>, address: SocketAddr) -> ServerName<'static> {
        if let Some(name) = &tls.server_name {
            return name.clone();
        }
        host.and_then(|h| ServerName::try_from(h.to_string()).ok())
            .unwrap_or_else(|| ServerName::IpAddress(address.ip().into()))
    }

    /// Connects, within the timeout; with TLS, the handshake too.
    pub async fn connect(&self, purpose: Purpose) -> Result<Connected, UpstreamError> {
        let address = self.address;
        if purpose == Purpose::Upgrade && matches!(self.protocol, UpstreamProtocol::H2 | UpstreamProtocol::H2c) {
            return Err(UpstreamError::UpgradeOverHttp2 { address });
        }
        let stream = match tokio::time::timeout(self.timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(UpstreamError::Connect { address, source }),
            Err(_) => {
                return Err(UpstreamError::ConnectTimeout {
                    address,
                    after: self.timeout,
                })
            }
        };
        let _ = stream.set_nodelay(true);
        let Some((tls, name)) = &self.tls else {
            let http2 = purpose == Purpose::Requests && self.protocol == UpstreamProtocol::H2c;
            return Ok(Connected {
                transport: Transport::Plain(stream),
                http2,
            });
        };
        let config = match purpose {
            Purpose::Requests => Arc::clone(&tls.requests),
            Purpose::Upgrade => Arc::clone(&tls.upgrades),
        };
        let handshake = TlsConnector::from(config).connect(name.clone(), stream);
        let stream = match tokio::time::timeout(self.timeout, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(UpstreamError::Tls {
                    address,
                    name: name.to_str().into_owned(),
                    source,
                })
            }
            Err(_) => {
                return Err(UpstreamError::ConnectTimeout {
                    address,
                    after: self.timeout,
                })
            }
        };
        let http2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok(Connected {
            transport: Transport::Tls(Box::new(stream)),
            http2,
        })
    }
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Transport::Tls(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Transport::Tls(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Transport::Tls(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(stream) => stream.is_write_vectored(),
            Transport::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Transport::Tls(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Transport::Tls(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
