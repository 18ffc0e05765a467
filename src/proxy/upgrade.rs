//! Upgrades (WebSocket): a request that asks to switch protocols goes
//! through the request hooks like any other (a plugin sees `upgrade()` and
//! may route or refuse it), then to a new HTTP/1.1 connection of its own
//! with its `Connection: upgrade` and `Upgrade` headers kept. A server that
//! answers 101 gets a tunnel (`crate::tunnel`) to the client; any other
//! answer is passed back as a normal response.
//!
//! An HTTP/2 client asks with an extended CONNECT (RFC 8441): the server
//! gets an HTTP/1.1 `GET` with `Upgrade: websocket` and a fresh
//! `Sec-WebSocket-Key`, and the client gets `200` once the server said 101.

use base64::Engine as _;
use http::header::{self, HeaderValue};
use http::{Method, Response, StatusCode};
use hyper::upgrade::OnUpgrade;

use super::response_body::ProxyBody;
use super::strip_hop_by_hop;
use crate::plugin::{RequestView, UpgradeRequest};
use crate::tunnel::{TunnelEnds, TunnelPermit, Tunnels};
use crate::upstream::UpstreamBody;

/// Notes the upgrade `head` asks for (so plugins see it after its
/// hop-by-hop headers are gone) and takes the client's side of it.
pub fn note(head: &mut http::request::Parts) -> Option<OnUpgrade> {
    let upgrade = UpgradeRequest::of(head)?;
    head.extensions.insert(upgrade);
    head.extensions.remove::<OnUpgrade>()
}

/// The head for the server, once the hop-by-hop headers are gone: the
/// upgrade asked again, as HTTP/1.1.
pub fn prepare(view: &mut RequestView, upgrade: &UpgradeRequest) {
    let headers = &mut view.head.headers;
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(protocol) = HeaderValue::from_str(&upgrade.protocol) {
        headers.insert(header::UPGRADE, protocol);
    }
    if upgrade.extended_connect {
        // RFC 8441 section 5: an HTTP/1.1 server gets the RFC 6455 GET.
        view.head.method = Method::GET;
        view.head.extensions.remove::<hyper::ext::Protocol>();
        if upgrade.protocol == "websocket" && !headers.contains_key("sec-websocket-key") {
            headers.insert("sec-websocket-key", websocket_key());
        }
    }
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64.
fn websocket_key() -> HeaderValue {
    let mut nonce = [0u8; 16];
    // A failure leaves zeros: still a valid key (it is a nonce, not a secret).
    let _ = crate::tls::provider().secure_random.fill(&mut nonce);
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    HeaderValue::from_str(&key).unwrap_or_else(|_| HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAA=="))
}

/// The server's answer to an upgrade, for the client. A 101 opens the
/// tunnel (the client gets 101, or 200 for an extended CONNECT); anything
/// else is passed back as it is.
pub fn answer(
    mut response: Response<ProxyBody>,
    client: Option<OnUpgrade>,
    upgrade: &UpgradeRequest,
    tunnels: &Tunnels,
    permit: TunnelPermit,
    idle_timeout: std::time::Duration,
) -> Response<ProxyBody> {
    // Upgrades are sent on hyper's client, whose heads are maps already:
    // nothing to move today, and right whichever client carries them.
    super::fields_into_map(&mut response);
    let (Some(client), StatusCode::SWITCHING_PROTOCOLS) = (client, response.status()) else {
        strip_hop_by_hop(response.headers_mut());
        return response;
    };
    let Some(server) = response.extensions_mut().remove::<OnUpgrade>() else {
        strip_hop_by_hop(response.headers_mut());
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let in_flight = match body {
        ProxyBody::Upstream(body) => UpstreamBody::into_in_flight(*body),
        _ => None,
    };
    let switched = parts.headers.get(header::UPGRADE).cloned();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::CONTENT_LENGTH);
    if upgrade.extended_connect {
        // The accept answers the key the proxy made, not the client's.
        parts.headers.remove("sec-websocket-accept");
        parts.status = StatusCode::OK;
        parts.version = http::Version::HTTP_2;
    } else {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(switched) = switched {
            parts.headers.insert(header::UPGRADE, switched);
        }
    }
    let Some(in_flight) = in_flight else {
        return Response::from_parts(parts, ProxyBody::Empty);
    };
    tunnels.spawn(
        permit,
        TunnelEnds {
            client,
            server,
            idle_timeout,
            in_flight,
        },
    );
    Response::from_parts(parts, ProxyBody::Empty)
}
