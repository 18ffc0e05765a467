//! The request as plugins see it: a host-owned head that the `request`
//! resource of the WIT contract reads from. Nothing is copied into the guest
//! until a method asks for it.

use std::net::SocketAddr;
use std::sync::Arc;

use super::decision::{Interest, Scheme};

/// Facts about the connection a request arrived on, shared by every request
/// of that connection.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The client's address.
    pub client: SocketAddr,
    /// The local address it connected to.
    pub local: SocketAddr,
    /// `https` on a TLS listener.
    pub scheme: Scheme,
    /// The listener's name from the configuration.
    pub listener: Arc<str>,
    /// The client's IP as a header value, made once per connection for
    /// `X-Forwarded-For`.
    pub client_ip: http::HeaderValue,
    /// The name the client asked for by SNI (TLS listeners), lower case.
    pub server_name: Option<Arc<str>>,
    /// The protocol ALPN settled (TLS listeners).
    pub alpn: Option<&'static str>,
}

impl ConnectionInfo {
    /// The facts of a connection accepted on `listener`.
    pub fn new(client: SocketAddr, local: SocketAddr, scheme: Scheme, listener: Arc<str>) -> ConnectionInfo {
        let client_ip = http::HeaderValue::from_str(&client.ip().to_string())
            .unwrap_or_else(|_| http::HeaderValue::from_static("unknown"));
        ConnectionInfo {
            client,
            local,
            scheme,
            listener,
            client_ip,
            server_name: None,
            alpn: None,
        }
    }

    /// With what the TLS handshake settled: the SNI name and ALPN.
    pub fn with_tls(mut self, server_name: Option<&str>, alpn: Option<&[u8]>) -> ConnectionInfo {
        self.server_name = server_name.map(|n| Arc::from(n.to_ascii_lowercase()));
        self.alpn = match alpn {
            Some(b"h2") => Some("h2"),
            Some(b"http/1.1") => Some("http/1.1"),
            _ => None,
        };
        self
    }
}

/// A request that asks to switch protocols (an HTTP/1.1 `Upgrade`, or an
/// HTTP/2 extended CONNECT), noted when it is admitted, before its
/// hop-by-hop headers go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The protocol, lower case (`websocket`).
    pub protocol: String,
    /// Whether it came as an HTTP/2 extended CONNECT (RFC 8441).
    pub extended_connect: bool,
}

impl UpgradeRequest {
    /// The upgrade `head` asks for, if any.
    pub fn of(head: &http::request::Parts) -> Option<UpgradeRequest> {
        if head.method == http::Method::CONNECT {
            let protocol = head.extensions.get::<hyper::ext::Protocol>()?;
            return Some(UpgradeRequest {
                protocol: protocol.as_str().to_ascii_lowercase(),
                extended_connect: true,
            });
        }
        // Most requests have no `Upgrade`: nothing else is looked at.
        let protocol = head.headers.get(http::header::UPGRADE)?.to_str().ok()?;
        let asks = head
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
        (asks && head.version == http::Version::HTTP_11).then(|| UpgradeRequest {
            protocol: protocol.trim().to_ascii_lowercase(),
            extended_connect: false,
        })
    }
}

/// The first bytes of a request body (or all of it), buffered for the
/// request hooks that declared a body interest; kept in the head's
/// extensions while the body itself streams on to the server.
#[derive(Debug, Clone)]
pub struct BufferedBody {
    /// What was read.
    pub bytes: bytes::Bytes,
    /// Whether it is the whole body.
    pub complete: bool,
}

/// A request head plus its connection: everything a plugin can ask about.
#[derive(Debug)]
pub struct RequestView {
    /// The head as received (edited for the server once the chain ran).
    pub head: http::request::Parts,
    /// The connection it arrived on.
    pub conn: Arc<ConnectionInfo>,
}

impl RequestView {
    /// The authority the client asked for: the URI's (HTTP/2 `:authority`,
    /// or an absolute-form request target), else the `Host` header.
    pub fn authority(&self) -> Option<&str> {
        if let Some(authority) = self.head.uri.authority() {
            return Some(authority.as_str());
        }
        crate::header_names::first(&self.head.headers, &http::header::HOST).and_then(|h| h.to_str().ok())
    }

    /// `HTTP/1.1` and the like.
    pub fn version_name(&self) -> &'static str {
        version_name(self.head.version)
    }

    /// The upgrade this request asks for, if any.
    pub fn upgrade(&self) -> Option<&UpgradeRequest> {
        self.head.extensions.get::<UpgradeRequest>()
    }

    /// Whether a plugin with `interest` wants to see this request.
    pub fn wanted_by(&self, interest: &Interest) -> bool {
        interest.matches(self.conn.scheme, self.head.uri.path())
    }
}

/// `HTTP/1.1` and the like, as plugins and the access log show a version.
pub fn version_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

impl RequestView {
    /// An empty view that stands in a store between calls, so the real one
    /// can be swapped in and out without `Option` juggling.
    pub(crate) fn placeholder() -> RequestView {
        let (head, ()) = http::Request::new(()).into_parts();
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        RequestView {
            head,
            conn: Arc::new(ConnectionInfo::new(
                unspecified,
                unspecified,
                Scheme::Http,
                Arc::from(""),
            )),
        }
    }
}
