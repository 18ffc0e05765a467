//! A client's request head, read by our own HTTP/1.1 server: parsed with
//! `httparse` into `http` types, header values shared slices of the head.
//! Only the plain case is taken: a request without a body, an upgrade or
//! an `Expect`, in origin form, with a head hyper would accept. Anything
//! else, and anything malformed or over the listener's limits, is left to
//! hyper's server with the bytes as they came (`Parsed::HandOff`), so every
//! refusal (400, 431) and every other feature stays hyper's.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::{Method, Uri, Version};

use crate::header_names::{parsed_value, HeaderNames};

/// At most this many fields are parsed here; more go to hyper, which
/// applies the listener's `max_headers`.
const MAX_FIELDS: usize = 64;

/// What the start of the read buffer holds (returned once per request:
/// boxing the head would cost an allocation each time).
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed {
    /// A request the fast path serves, taken from the buffer.
    Request(RequestHead),
    /// Not a whole head yet, and within the limits.
    Partial,
    /// For hyper: left in the buffer.
    HandOff,
}

/// A parsed request head.
#[derive(Debug)]
pub struct RequestHead {
    /// Method, target, version and fields.
    pub parts: http::request::Parts,
    /// Whether the client keeps the connection after the response.
    pub keep_alive: bool,
}

/// The limits a head is read within.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// Bytes of a head (hyper's read buffer: the listener's
    /// `max_header_bytes`, at least 8 KiB).
    pub max_bytes: usize,
    /// The listener's `max_headers`.
    pub max_fields: usize,
}

/// Parses the request head at the start of `buf`.
pub fn parse(buf: &mut BytesMut, limits: HeadLimits, names: &mut HeaderNames) -> Parsed {
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_FIELDS];
    let (length, method, target, minor, count, connection) = {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
        let mut request = httparse::Request::new(&mut []);
        let window = &buf[..buf.len().min(limits.max_bytes)];
        let length = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
            &mut request,
            window,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) if buf.len() < limits.max_bytes => return Parsed::Partial,
            // Too large, too many fields, malformed: hyper says which.
            _ => return Parsed::HandOff,
        };
        let count = request.headers.len();
        if count > limits.max_fields {
            return Parsed::HandOff;
        }
        let (Some(method), Some(path), Some(minor)) = (request.method, request.path, request.version) else {
            return Parsed::HandOff;
        };
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return Parsed::HandOff;
        };
        if !path.starts_with('/') || method == Method::CONNECT {
            return Parsed::HandOff;
        }
        let mut connection = Connection::default();
        let base = buf.as_ptr() as usize;
        for (span, field) in spans.iter_mut().zip(request.headers.iter()) {
            if !plain_field(field.name.as_bytes(), field.value, &mut connection) {
                return Parsed::HandOff;
            }
            // Within the head, which is within max_bytes (fits in u32).
            *span = (
                (field.name.as_ptr() as usize - base) as u32,
                field.name.len() as u32,
                (field.value.as_ptr() as usize - base) as u32,
                field.value.len() as u32,
            );
        }
        let target = (path.as_ptr() as usize - base, path.len());
        (length, method, target, minor, count, connection)
    };
    let head = buf.split_to(length).freeze();
    match request_parts(&head, method, target, &spans[..count], names) {
        Some(mut parts) => {
            let (version, keep_alive) = match minor {
                1 => (Version::HTTP_11, !connection.close),
                _ => (Version::HTTP_10, connection.keep_alive && !connection.close),
            };
            parts.version = version;
            Parsed::Request(RequestHead { parts, keep_alive })
        }
        None => {
            // A name or target hyper may judge otherwise: it gets the
            // bytes back as they came.
            let mut whole = BytesMut::with_capacity(head.len() + buf.len());
            whole.extend_from_slice(&head);
            whole.extend_from_slice(buf);
            *buf = whole;
            Parsed::HandOff
        }
    }
}

/// The head's parts: names parsed, values and target shared slices of
/// `head`. `None` if a name or the target is not valid.
fn request_parts(
    head: &Bytes,
    method: Method,
    target: (usize, usize),
    spans: &[(u32, u32, u32, u32)],
    names: &mut HeaderNames,
) -> Option<http::request::Parts> {
    let uri = Uri::from_maybe_shared(head.slice(target.0..target.0 + target.1)).ok()?;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    // Filled where it is (the empty map made with the parts is neither
    // moved nor dropped), with room for what the proxy adds on the way to
    // the server, so the map is not grown (reallocated and rehashed) for
    // it: a head of one field (wrk's) grew three times, about 1,400
    // instructions a request.
    let headers = &mut parts.headers;
    headers.reserve(spans.len() + crate::proxy::ADDED_FIELDS);
    for (position, &(name, name_len, value, value_len)) in spans.iter().enumerate() {
        let name = names
            .name(position, &head[name as usize..(name + name_len) as usize])
            .ok()?;
        let value = head.slice(value as usize..(value + value_len) as usize);
        // SAFETY: a value httparse accepted (the span `parse` noted).
        #[allow(unsafe_code)]
        let value = unsafe { parsed_value(value) };
        headers.append(name, value);
    }
    Some(parts)
}

/// The `Connection` options of a head.
#[derive(Debug, Default)]
struct Connection {
    close: bool,
    keep_alive: bool,
}

/// Whether a field leaves the request plain (no body, upgrade or
/// expectation), noting its `Connection` options. `name` as sent.
fn plain_field(name: &[u8], value: &[u8], connection: &mut Connection) -> bool {
    let is = |known: &str| name.len() == known.len() && name.eq_ignore_ascii_case(known.as_bytes());
    match name.len() {
        14 if is("content-length") => value.trim_ascii() == b"0",
        17 if is("transfer-encoding") => false,
        7 if is("upgrade") => false,
        6 if is("expect") => false,
        10 if is("connection") => {
            for option in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if option.eq_ignore_ascii_case(b"close") {
                    connection.close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    connection.keep_alive = true;
                } else if option.eq_ignore_ascii_case(b"upgrade") {
                    return false;
                }
            }
            true
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_bytes: 8192,
        max_fields: 20,
    };

    fn parsed(wire: &[u8]) -> (Parsed, BytesMut) {
        let mut buf = BytesMut::from(wire);
        let parsed = parse(&mut buf, LIMITS, &mut HeaderNames::default());
        (parsed, buf)
    }

    #[test]
    fn a_plain_request_is_taken_and_what_follows_stays() {
        let (parsed, rest) = parsed(b"GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Many: 1\r\nx-many: 2\r\n\r\nGET /next");
        let Parsed::Request(head) = parsed else {
            panic!("taken: {parsed:?}")
        };
        assert_eq!(head.parts.method, Method::GET);
        assert_eq!(head.parts.uri, "/a?b=c");
        assert_eq!(head.parts.version, Version::HTTP_11);
        assert_eq!(head.parts.headers["host"], "x");
        assert_eq!(head.parts.headers.get_all("x-many").iter().count(), 2);
        assert!(head.keep_alive);
        assert_eq!(&rest[..], b"GET /next");
    }

    /// A head's map has room for what the proxy adds on the way to the
    /// server, whatever few fields the client sent (wrk sends one).
    #[test]
    fn the_map_has_room_for_the_proxys_fields() {
        for wire in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], b"GET / HTTP/1.0\r\n\r\n"] {
            let (Parsed::Request(head), _) = parsed(wire) else {
                panic!("taken");
            };
            let headers = &head.parts.headers;
            assert!(
                headers.capacity() >= headers.len() + crate::proxy::ADDED_FIELDS,
                "{} for {}",
                headers.capacity(),
                headers.len()
            );
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        for (wire, keep) in [
            (&b"GET / HTTP/1.1\r\n\r\n"[..], true),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false),
        ] {
            match parsed(wire).0 {
                Parsed::Request(head) => assert_eq!(head.keep_alive, keep, "{}", String::from_utf8_lossy(wire)),
                other => panic!("taken: {other:?}"),
            }
        }
    }

    #[test]
    fn anything_but_a_plain_request_is_left_whole_for_hyper() {
        for wire in [
            &b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"GET / HTTP/1.1\r\nconnection: upgrade\r\n\r\n",
            b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            b"GET http://x/ HTTP/1.1\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\n\r\n",
            b"CONNECT x:443 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: 1\r\n folded\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
        ] {
            let (parsed, rest) = parsed(wire);
            assert!(
                matches!(parsed, Parsed::HandOff),
                "{}: {parsed:?}",
                String::from_utf8_lossy(wire)
            );
            assert_eq!(&rest[..], wire, "left as it came");
        }
        let fields: String = (0..21).map(|i| format!("X-{i}: 1\r\n")).collect();
        let wire = format!("GET / HTTP/1.1\r\n{fields}\r\n");
        assert!(matches!(parsed(wire.as_bytes()).0, Parsed::HandOff), "over max_headers");
        assert!(matches!(
            parsed(b"GET / HTTP/1.1\r\nContent-Length:  0 \r\n\r\n").0,
            Parsed::Request(_)
        ));
    }

    #[test]
    fn a_partial_head_waits_until_it_is_too_large() {
        assert!(matches!(parsed(b"GET / HTTP/1.1\r\nHost: x\r\n").0, Parsed::Partial));
        let long = format!("GET / HTTP/1.1\r\nX-Long: {}", "a".repeat(LIMITS.max_bytes));
        let (parsed, rest) = parsed(long.as_bytes());
        assert!(matches!(parsed, Parsed::HandOff), "hyper answers 431");
        assert_eq!(rest.len(), long.len());
    }
}
