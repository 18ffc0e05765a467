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
        }
    }
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
        self.head.headers.get(http::header::HOST).and_then(|h| h.to_str().ok())
    }

    /// `HTTP/1.1` and the like.
    pub fn version_name(&self) -> &'static str {
        version_name(self.head.version)
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
