//! Checks on a request head before any plugin sees it, closing the gaps a
//! request-smuggling or cache-poisoning attempt would use. hyper's parser
//! already rejects malformed request lines, invalid header names, NUL and
//! other control bytes, obs-fold, bad chunk sizes, conflicting
//! Content-Length values and Transfer-Encoding other than chunked; for
//! Content-Length with Transfer-Encoding it follows RFC 9112 6.3: the body
//! is read as chunked, Content-Length is dropped and the connection closes
//! after the response, so nothing after the body is read as a request.
//! What is left is the target's authority:
//!
//! - HTTP/1.1 requires exactly one `Host` (RFC 9112 3.2);
//! - an absolute-form target or HTTP/2 `:authority` must agree with `Host`
//!   when both are present, otherwise the proxy and the server could route
//!   one request differently;
//! - the authority must be a plain `host[:port]`, no user info;
//! - `CONNECT` tunnels are not offered; an HTTP/2 extended CONNECT (RFC
//!   8441, a `:protocol` such as `websocket`) is an upgrade, not a tunnel.

use http::request::Parts;
use http::{header, HeaderMap, Method, StatusCode, Version};

/// Why a request head is refused, and with which status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 400, or 405 for `CONNECT`.
    pub status: StatusCode,
    /// What is wrong with the head, for the error response.
    pub reason: &'static str,
}

fn refuse(status: StatusCode, reason: &'static str) -> Result<(), Refusal> {
    Err(Refusal { status, reason })
}

/// The fields admission looks at, found present or not in one pass over
/// a request's map: most requests carry a `Host` and none of the rest, and
/// a field known absent is not looked up (a hash and a probe each).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Present {
    /// `Host` values, up to 2.
    pub(crate) hosts: u8,
    /// A `Transfer-Encoding`.
    pub(crate) transfer_encoding: bool,
    /// A `Content-Length`.
    pub(crate) content_length: bool,
    /// A `Content-Type`.
    pub(crate) content_type: bool,
    /// An `Upgrade`.
    pub(crate) upgrade: bool,
}

impl Present {
    /// What `headers` hold.
    pub(crate) fn of(headers: &HeaderMap) -> Present {
        let mut present = Present::default();
        for (name, _) in headers {
            if *name == header::HOST {
                present.hosts = present.hosts.saturating_add(1).min(2);
            } else if *name == header::CONTENT_LENGTH {
                present.content_length = true;
            } else if *name == header::CONTENT_TYPE {
                present.content_type = true;
            } else if *name == header::TRANSFER_ENCODING {
                present.transfer_encoding = true;
            } else if *name == header::UPGRADE {
                present.upgrade = true;
            }
        }
        present
    }
}

/// Refuses `CONNECT` and a head whose authority is missing, repeated,
/// mismatched or not a plain `host[:port]`.
pub fn check_head(head: &Parts) -> Result<(), Refusal> {
    check_present(head, &Present::of(&head.headers))
}

/// [`check_head`] on a head whose fields were found with `present`
/// (`Present::of` its map as it is: a stale one lets a second `Host` by).
pub(crate) fn check_present(head: &Parts, present: &Present) -> Result<(), Refusal> {
    if head.method == Method::CONNECT {
        if head.extensions.get::<hyper::ext::Protocol>().is_none() {
            return refuse(StatusCode::METHOD_NOT_ALLOWED, "CONNECT is not supported");
        }
        // An extended CONNECT carries its target as :authority and :path.
        return match head.uri.authority() {
            Some(_) => Ok(()),
            None => refuse(StatusCode::BAD_REQUEST, "an extended CONNECT needs an authority"),
        };
    }

    // hyper refuses a last coding other than chunked; chunked applied twice
    // ("chunked, chunked", or two such lines) is framing two parsers may
    // read differently (RFC 9112 6.1).
    let chunked = match present.transfer_encoding {
        false => 0,
        true => head
            .headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .filter(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
            .count(),
    };
    if chunked > 1 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Transfer-Encoding applies chunked more than once",
        );
    }

    let host = match present.hosts {
        0 => None,
        1 => crate::header_names::first(&head.headers, &header::HOST),
        _ => return refuse(StatusCode::BAD_REQUEST, "more than one Host header"),
    };
    let uri_authority = head.uri.authority();
    if host.is_none() && uri_authority.is_none() && head.version == Version::HTTP_11 {
        return refuse(StatusCode::BAD_REQUEST, "HTTP/1.1 request without Host");
    }
    if let Some(host) = host {
        let Ok(host) = host.to_str() else {
            return refuse(StatusCode::BAD_REQUEST, "Host is not ASCII");
        };
        if !is_plain_authority(host) {
            return refuse(StatusCode::BAD_REQUEST, "Host is not a valid host[:port]");
        }
        if let Some(authority) = uri_authority {
            if !authority.as_str().eq_ignore_ascii_case(host) {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "Host does not match the request target's authority",
                );
            }
        }
    }
    if let Some(authority) = uri_authority {
        if !is_plain_authority(authority.as_str()) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the request target's authority is not a valid host[:port]",
            );
        }
    }
    Ok(())
}

/// The bytes of a reg-name or IPv4 host as `is_plain_authority` takes
/// them: a table, one load a byte.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_');
        b += 1;
    }
    table
};

/// `host[:port]` with a reg-name, IPv4 or bracketed IPv6 host and a port
/// of at most five digits (RFC 3986 allows it empty). A byte scan: this
/// runs for every request.
fn is_plain_authority(text: &str) -> bool {
    let v6_ok = |b: u8| b.is_ascii_hexdigit() || matches!(b, b':' | b'.');
    let port_ok = |p: &str| p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    match text.strip_prefix('[') {
        Some(rest) => {
            let Some((v6, after)) = rest.split_once(']') else {
                return false;
            };
            let port = match after {
                "" => "",
                _ => match after.strip_prefix(':') {
                    Some(port) => port,
                    None => return false,
                },
            };
            !v6.is_empty() && v6.bytes().all(v6_ok) && port_ok(port)
        }
        // One pass: name bytes up to a colon, then only digits.
        None => {
            let bytes = text.as_bytes();
            let host = bytes
                .iter()
                .position(|&b| !NAME_BYTES[usize::from(b)])
                .unwrap_or(bytes.len());
            match bytes.get(host) {
                _ if host == 0 => false,
                None => true,
                Some(b':') => {
                    let port = &bytes[host + 1..];
                    port.len() <= 5 && port.iter().all(u8::is_ascii_digit)
                }
                Some(_) => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(build: http::request::Builder) -> Parts {
        build.body(()).unwrap().into_parts().0
    }

    /// The pass finds what a lookup by name would, in any case and with
    /// repeated values: admission skips only the fields truly absent.
    #[test]
    fn present_is_what_lookups_find() {
        let heads = [
            vec![],
            vec![("Host", "a")],
            vec![("host", "a"), ("HOST", "b"), ("host", "c")],
            vec![("Transfer-Encoding", "chunked"), ("x-a", "1")],
            vec![("content-length", "5"), ("Content-Type", "application/grpc")],
            vec![("Upgrade", "websocket"), ("Connection", "upgrade"), ("Host", "a")],
            vec![
                ("x-host", "a"),
                ("content-lengthx", "1"),
                ("upgrade-insecure-requests", "1"),
            ],
        ];
        for fields in heads {
            let mut request = http::Request::get("/");
            for (name, value) in &fields {
                request = request.header(*name, *value);
            }
            let parts = head(request);
            let present = Present::of(&parts.headers);
            let has = |name| parts.headers.contains_key(name);
            let hosts = parts.headers.get_all(header::HOST).iter().count().min(2);
            assert_eq!(usize::from(present.hosts), hosts, "{fields:?}");
            assert_eq!(present.transfer_encoding, has(header::TRANSFER_ENCODING), "{fields:?}");
            assert_eq!(present.content_length, has(header::CONTENT_LENGTH), "{fields:?}");
            assert_eq!(present.content_type, has(header::CONTENT_TYPE), "{fields:?}");
            assert_eq!(present.upgrade, has(header::UPGRADE), "{fields:?}");
        }
    }

    #[test]
    fn authority_rules() {
        let ok = |b| check_head(&head(b)).is_ok();
        assert!(ok(http::Request::get("/").header("host", "shop.example:8080")));
        assert!(ok(http::Request::get("/").header("host", "[::1]:80")));
        assert!(ok(
            http::Request::get("http://shop.example/x").header("host", "SHOP.example")
        ));
        assert!(ok(http::Request::get("/").version(Version::HTTP_10)));
        assert!(!ok(http::Request::get("/")), "HTTP/1.1 needs Host");
        assert!(!ok(http::Request::get("/").header("host", "a").header("host", "b")));
        assert!(!ok(
            http::Request::get("http://evil.example/x").header("host", "shop.example")
        ));
        assert!(!ok(http::Request::get("/").header("host", "user@shop.example")));
        assert!(!ok(http::Request::get("/").header("host", "shop example")));
        assert!(!ok(http::Request::get("/").header("host", "shop.example/path")));
        assert!(!ok(http::Request::get("/").header("host", "shop.example:80:81")));
        assert!(!ok(http::Request::get("/").header("host", "shop.example:http")));
        assert!(!ok(http::Request::get("/").header("host", "[::1]x")));
        assert!(ok(http::Request::post("/")
            .header("host", "a")
            .header("transfer-encoding", "gzip, chunked")));
        assert!(!ok(http::Request::post("/")
            .header("host", "a")
            .header("transfer-encoding", "chunked, Chunked")));
        assert!(!ok(http::Request::post("/")
            .header("host", "a")
            .header("transfer-encoding", "chunked")
            .header("transfer-encoding", "chunked")));
        assert!(!ok(http::Request::get("/").header("host", "[]:80")));
        assert!(!ok(http::Request::get("/").header("host", ":80")));
        assert!(ok(http::Request::get("/").header("host", "[::1]")));
        assert!(ok(http::Request::get("/").header("host", "127.0.0.1:8080")));
        assert!(
            ok(http::Request::get("/").header("host", "a:")),
            "an empty port is allowed"
        );
        assert!(ok(http::Request::get("/").header("host", "a:65535")));
        assert!(!ok(http::Request::get("/").header("host", "a:655350")), "six digits");
        assert!(!ok(http::Request::get("/").header("host", "a:8 ")));
        assert!(!ok(http::Request::builder()
            .method("CONNECT")
            .uri("shop.example:443")
            .header("host", "shop.example:443")));
    }
}
