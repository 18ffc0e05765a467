//! What the proxy does for gRPC requests (`content-type: application/grpc`):
//! it honours the call's `grpc-timeout` (the wait for the server's response
//! head is bounded by it as well as by `response_timeout`; the header goes
//! on to the server, which bounds the rest), and the errors it makes itself
//! reach the client as gRPC statuses in a trailers-only response, as
//! Envoy's, so a gRPC client sees `DEADLINE_EXCEEDED` or `UNAVAILABLE`
//! rather than an HTTP status it cannot map.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::error::ProxyError;
use super::request_id::RequestId;
use super::response_body::ProxyBody;
use super::REQUEST_ID;

/// Marks a gRPC request (set when it is admitted).
#[derive(Debug, Clone, Copy)]
pub struct GrpcCall {
    /// Its `grpc-timeout`, if it sent one.
    pub deadline: Option<Duration>,
}

/// The request's gRPC facts, if it is a gRPC call.
pub fn call(headers: &HeaderMap) -> Option<GrpcCall> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?.as_bytes();
    if !content_type.starts_with(b"application/grpc") {
        return None;
    }
    let deadline = headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_timeout);
    Some(GrpcCall { deadline })
}

/// `grpc-timeout`: at most 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_timeout(text: &str) -> Option<Duration> {
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The gRPC status for an error the proxy answers itself.
fn status_of(error: &ProxyError) -> u32 {
    match error {
        ProxyError::Upstream(e) if e.is_timeout() => 4, // DEADLINE_EXCEEDED
        ProxyError::BodyTooLarge { .. } => 8,           // RESOURCE_EXHAUSTED
        ProxyError::BadRequest { .. } => 13,            // INTERNAL
        ProxyError::UnknownBackend { .. } | ProxyError::NoRoute { .. } => 12, // UNIMPLEMENTED
        _ => 14,                                        // UNAVAILABLE
    }
}

/// `error` as a trailers-only gRPC response: HTTP 200, `grpc-status`,
/// `grpc-message` (percent-encoded as the spec asks), the request id.
pub fn error_response(error: &ProxyError, id: RequestId) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::Empty);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(status_of(error)));
    let message = format!("{error} (request id {id})");
    if let Ok(value) = HeaderValue::from_str(&percent_encode(&message)) {
        headers.insert("grpc-message", value);
    }
    headers.insert(REQUEST_ID, id.header_value());
    response
}

/// gRPC's percent-encoding of `grpc-message`: printable ASCII but `%` as is.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_in_every_unit() {
        assert_eq!(parse_timeout("300m"), Some(Duration::from_millis(300)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("5u"), Some(Duration::from_micros(5)));
        assert_eq!(parse_timeout("123456789m"), None, "nine digits");
        assert_eq!(parse_timeout("m"), None);
        assert_eq!(parse_timeout("10x"), None);
        assert_eq!(parse_timeout(""), None);
    }

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("100% é"), "100%25 %C3%A9");
    }
}
