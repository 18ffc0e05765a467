//! The request as written on an HTTP/1.1 connection: the head, and how its
//! body is framed (none, a length, or chunks).

use std::io::Write;

use bytes::Bytes;
use http::{header, Method, Request};
use http_body::Body;

use crate::body::RequestBody;

/// How the request's body follows its head.
#[derive(Debug)]
pub enum BodyPlan {
    /// No body.
    None,
    /// A body held whole, written after the head (small ones are already
    /// in the head's buffer: then this is `None`).
    Whole(Bytes),
    /// A streamed body of this many bytes (`Content-Length`).
    Length(u64),
    /// A streamed body of unknown length (`Transfer-Encoding: chunked`).
    Chunked,
}

/// A whole body up to this size is copied behind the head, so both go in
/// one write.
const COPY_WHOLE_BELOW: usize = 16 * 1024;

/// Writes `request`'s head into `out` (cleared first) and says how its body
/// follows. The framing headers are the client's own only where they still
/// hold: a body's length is written as it is now, a body of unknown length
/// is sent chunked, and an empty body says `Content-Length: 0` where the
/// method expects a body or the client said so.
pub fn head(request: &mut Request<RequestBody>, out: &mut Vec<u8>) -> BodyPlan {
    out.clear();
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    // Noted on the way, not looked up.
    let mut had_length = false;
    for (name, value) in request.headers() {
        if name == header::CONTENT_LENGTH {
            had_length = true;
            continue;
        }
        if name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = request.body_mut();
    let plan = match body {
        RequestBody::Bytes(Some(bytes)) => {
            let bytes = std::mem::take(bytes);
            length_line(out, bytes.len() as u64);
            out.extend_from_slice(b"\r\n");
            if bytes.len() < COPY_WHOLE_BELOW {
                out.extend_from_slice(&bytes);
                return BodyPlan::None;
            }
            return BodyPlan::Whole(bytes);
        }
        _ if body.is_end_stream() => {
            if had_length || expects_body(request.method()) {
                length_line(out, 0);
            }
            BodyPlan::None
        }
        _ => match body.size_hint().exact() {
            Some(length) => {
                length_line(out, length);
                BodyPlan::Length(length)
            }
            None => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                BodyPlan::Chunked
            }
        },
    };
    out.extend_from_slice(b"\r\n");
    plan
}

fn length_line(out: &mut Vec<u8>, length: u64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "content-length: {length}\r\n");
}

/// Methods whose requests carry a body, so an empty one is announced.
fn expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// A chunk's size line (hex, then CRLF).
pub fn chunk_size_line(out: &mut Vec<u8>, size: usize) {
    let _ = write!(out, "{size:x}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)], body: RequestBody) -> Request<RequestBody> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = http::Uri::from_static("/a/b?x=1");
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                http::HeaderValue::from_str(value).expect("value"),
            );
        }
        request
    }

    fn text(out: &[u8]) -> &str {
        std::str::from_utf8(out).expect("ascii")
    }

    #[test]
    fn a_get_has_no_framing_headers() {
        let mut out = Vec::new();
        let mut get = request(
            Method::GET,
            &[("host", "h"), ("x-a", "1"), ("x-a", "2")],
            RequestBody::Empty,
        );
        assert!(matches!(head(&mut get, &mut out), BodyPlan::None));
        assert_eq!(
            text(&out),
            "GET /a/b?x=1 HTTP/1.1\r\nhost: h\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
        );
    }

    #[test]
    fn an_empty_post_says_length_zero_and_a_stale_length_is_replaced() {
        let mut out = Vec::new();
        let mut post = request(Method::POST, &[("host", "h")], RequestBody::Empty);
        head(&mut post, &mut out);
        assert_eq!(
            text(&out),
            "POST /a/b?x=1 HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n"
        );
        let mut get = request(
            Method::GET,
            &[("content-length", "12"), ("transfer-encoding", "chunked")],
            RequestBody::Empty,
        );
        head(&mut get, &mut out);
        assert_eq!(text(&out), "GET /a/b?x=1 HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
    }

    #[test]
    fn a_whole_body_follows_its_head_with_its_length() {
        let mut out = Vec::new();
        let mut put = request(
            Method::PUT,
            &[("content-length", "99")],
            RequestBody::Bytes(Some(Bytes::from_static(b"hello"))),
        );
        assert!(matches!(head(&mut put, &mut out), BodyPlan::None));
        assert_eq!(text(&out), "PUT /a/b?x=1 HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello");
        let large = Bytes::from(vec![b'x'; COPY_WHOLE_BELOW]);
        let mut put = request(Method::PUT, &[], RequestBody::Bytes(Some(large)));
        match head(&mut put, &mut out) {
            BodyPlan::Whole(bytes) => assert_eq!(bytes.len(), COPY_WHOLE_BELOW),
            other => panic!("{other:?}"),
        }
        assert!(text(&out).ends_with("content-length: 16384\r\n\r\n"));
    }

    #[test]
    fn numbers_are_written_in_full() {
        let mut out = Vec::new();
        for (n, decimal) in [(0u64, "0"), (7, "7"), (10, "10"), (u64::MAX, "18446744073709551615")] {
            out.clear();
            length_line(&mut out, n);
            assert_eq!(text(&out), format!("content-length: {decimal}\r\n"));
        }
        for (n, hex) in [(0usize, "0"), (15, "f"), (16, "10"), (0x1234abcd, "1234abcd")] {
            out.clear();
            chunk_size_line(&mut out, n);
            assert_eq!(text(&out), format!("{hex}\r\n"));
        }
    }
}
