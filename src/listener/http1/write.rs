//! A response as our own HTTP/1.1 server writes it: the head, framed the
//! way hyper's server frames it (the response's `Content-Length`, else the
//! body's exact size, else chunked; to an HTTP/1.0 client a body of unknown
//! size runs until the connection closes), a `Date` when the response has
//! none, and the body in as few writes as it arrives in.

use std::future::poll_fn;
use std::io::Write as _;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap};
use http::{Response, StatusCode};
use http_body::Body;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::fields::Fields;
use crate::proxy::ProxyBody;

/// A data frame at most this large is copied into the write buffer, to go
/// out with what is buffered; a larger one is written as it is.
const COPY_UP_TO: usize = 16 * 1024;

/// How the body goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body at all (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    Chunked,
    /// Until the connection closes (HTTP/1.0, unknown size).
    UntilClose,
}

/// What the client asked, as far as the response's form goes.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    /// The request was HEAD.
    pub head: bool,
    /// The client speaks HTTP/1.0.
    pub http10: bool,
    /// The client keeps the connection.
    pub keep_alive: bool,
}

/// Why a response could not be written whole.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing to the client failed.
    #[error("writing to the client failed")]
    Io(#[from] std::io::Error),
    /// The response's body failed after its head went out.
    #[error("the response body failed")]
    Body(#[source] crate::body::BoxError),
    /// The body was longer or shorter than its `Content-Length`.
    #[error("the response body does not match its Content-Length of {declared}")]
    Length {
        /// What the head said.
        declared: u64,
    },
}

/// Writes `response` to `io` through `out` (the connection's write buffer,
/// left empty); `ready` is when the proxy had it (its `Date`, when it has
/// none). Returns whether the connection may carry another request.
pub async fn response<W: AsyncWrite + Unpin>(
    io: &mut W,
    out: &mut Vec<u8>,
    response: Response<ProxyBody>,
    asked: Asked,
    ready: Instant,
) -> Result<bool, WriteError> {
    let (parts, mut body) = response.into_parts();
    // Fields kept out of the map (a server's as our client read them, a
    // memoised plugin response's lines) are written where they are, then
    // what the map holds.
    let (framing, keep_alive) = head(
        out,
        parts.status,
        &body.take_fields(),
        &parts.headers,
        &body,
        asked,
        ready,
    );
    let mut sent = 0u64;
    loop {
        let frame = match next_frame(&mut body, io, out).await? {
            None => break,
            Some(Ok(frame)) => frame,
            Some(Err(error)) => return Err(WriteError::Body(error)),
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let (Framing::Chunked, Ok(trailers)) = (framing, frame.into_trailers()) {
                    out.extend_from_slice(b"0\r\n");
                    fields(out, &trailers);
                    out.extend_from_slice(b"\r\n");
                    flush(io, out).await?;
                    return Ok(keep_alive);
                }
                continue;
            }
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        match framing {
            Framing::None => continue,
            Framing::Length(declared) if sent > declared => return Err(WriteError::Length { declared }),
            Framing::Chunked => {
                let _ = write!(out, "{:x}\r\n", data.len());
                put(io, out, data).await?;
                out.extend_from_slice(b"\r\n");
            }
            _ => put(io, out, data).await?,
        }
    }
    match framing {
        Framing::Length(declared) if sent != declared => return Err(WriteError::Length { declared }),
        Framing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        _ => {}
    }
    flush(io, out).await?;
    Ok(keep_alive && framing != Framing::UntilClose)
}

/// Writes the head into `out`; returns the body's framing and whether the
/// connection may be kept. One pass over the fields (`fields`, then
/// `headers`) writes them and notes what framing and keep-alive depend on
/// (no lookups by name).
fn head(
    out: &mut Vec<u8>,
    status: StatusCode,
    fields: &Fields,
    headers: &HeaderMap,
    body: &ProxyBody,
    asked: Asked,
    ready: Instant,
) -> (Framing, bool) {
    out.extend_from_slice(match asked.http10 {
        true => b"HTTP/1.0 ",
        false => b"HTTP/1.1 ",
    });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let skip_length = status.is_informational() || status == StatusCode::NO_CONTENT;
    // Fields kept out of the map go out as they are (see `Fields`), then
    // the map's.
    let written = fields.write_lines(out, skip_length);
    // The first Content-Length, as hyper reads it.
    let mut declared: Option<Option<u64>> = written.length.map(Some);
    let mut has_date = written.date;
    let mut has_connection = false;
    let mut says_close = false;
    for (name, value) in headers {
        let value = value.as_bytes();
        if *name == header::CONTENT_LENGTH {
            if declared.is_none() {
                declared = Some(std::str::from_utf8(value).ok().and_then(|v| v.parse::<u64>().ok()));
            }
            if skip_length {
                continue;
            }
        } else if *name == header::TRANSFER_ENCODING {
            continue;
        } else if *name == header::DATE {
            has_date = true;
        } else if *name == header::CONNECTION {
            has_connection = true;
            says_close |= value
                .split(|&b| b == b',')
                .any(|o| o.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        field(out, name.as_str().as_bytes(), value);
    }
    let declared = declared.flatten();
    let no_body = asked.head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let exact = body.size_hint().exact();
    let framing = match (declared, exact) {
        _ if no_body => Framing::None,
        (Some(n), _) | (None, Some(n)) => Framing::Length(n),
        (None, None) if asked.http10 => Framing::UntilClose,
        (None, None) => Framing::Chunked,
    };
    let keep_alive = asked.keep_alive && framing != Framing::UntilClose && !status.is_informational() && !says_close;
    match framing {
        Framing::Length(n) if declared.is_none() => {
            content_length(out, n);
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        // HEAD and 304: the size the body would have had, when known.
        Framing::None if declared.is_none() && !skip_length && status != StatusCode::NOT_MODIFIED => {
            if let Some(n) = exact.filter(|n| *n > 0) {
                content_length(out, n);
            }
        }
        _ => {}
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        super::date::extend(out, ready);
        out.extend_from_slice(b"\r\n");
    }
    match (keep_alive, asked.http10) {
        (true, true) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        (false, _) if !has_connection => out.extend_from_slice(b"connection: close\r\n"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    (framing, keep_alive)
}

/// `content-length: n`, the number written with `itoa` (`write!` costs
/// about 600 instructions through `fmt`, a tenth of writing a redirect).
fn content_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn fields(out: &mut Vec<u8>, headers: &HeaderMap) {
    for (name, value) in headers {
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The body's next frame. One already there is taken at once, to go out
/// with what is buffered; before waiting for one, the buffer is written.
async fn next_frame<W: AsyncWrite + Unpin>(
    body: &mut ProxyBody,
    io: &mut W,
    out: &mut Vec<u8>,
) -> Result<Option<Result<http_body::Frame<Bytes>, crate::body::BoxError>>, std::io::Error> {
    let ready = poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await;
    if let Poll::Ready(frame) = ready {
        return Ok(frame);
    }
    flush(io, out).await?;
    Ok(poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await)
}

/// Adds body bytes: copied when small, else written after the buffer.
async fn put<W: AsyncWrite + Unpin>(io: &mut W, out: &mut Vec<u8>, data: Bytes) -> std::io::Result<()> {
    if data.len() <= COPY_UP_TO {
        out.extend_from_slice(&data);
        return Ok(());
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.write_all(&data).await
}

/// Writes what is buffered and flushes it (a TLS stream holds records
/// until flushed).
pub async fn flush<W: AsyncWrite + Unpin>(io: &mut W, out: &mut Vec<u8>) -> std::io::Result<()> {
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: Asked = Asked {
        head: false,
        http10: false,
        keep_alive: true,
    };

    fn written(status: u16, fields: &[(&str, &str)], body: &'static [u8], asked: Asked) -> (String, Framing, bool) {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let status = StatusCode::from_u16(status).unwrap();
        let mut out = Vec::new();
        let (framing, keep_alive) = head(
            &mut out,
            status,
            &Fields::default(),
            &headers,
            &ProxyBody::full(body),
            asked,
            Instant::now(),
        );
        (String::from_utf8(out).unwrap(), framing, keep_alive)
    }

    fn pairs<'a>(
        fields: &'a [(&'static str, &'static str)],
    ) -> impl Iterator<Item = (http::HeaderName, http::HeaderValue)> + 'a {
        fields.iter().map(|(name, value)| {
            (
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            )
        })
    }

    /// A server's fields our client kept out of the map go out first, then
    /// the map's, and both frame the body and the connection.
    #[test]
    fn fields_kept_out_of_the_map_are_written_with_it() {
        let fields: Fields = pairs(&[("content-length", "2"), ("x-a", "1"), ("date", "d")]).collect();
        let headers: HeaderMap = pairs(&[("connection", "close"), ("x-b", "2")]).collect();
        let mut out = Vec::new();
        let (framing, keep_alive) = head(
            &mut out,
            StatusCode::OK,
            &fields,
            &headers,
            &ProxyBody::full(&b"ok"[..]),
            KEEP,
            Instant::now(),
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: 1\r\ndate: d\r\nconnection: close\r\nx-b: 2\r\n\r\n"
        );
        assert_eq!(framing, Framing::Length(2), "the fields' length");
        assert!(!keep_alive, "the map's close");
    }

    #[test]
    fn a_response_saying_close_closes_and_is_not_told_twice() {
        let (text, _, keep_alive) = written(200, &[("connection", "Keep-Alive, Close")], b"ok", KEEP);
        assert!(!keep_alive);
        assert_eq!(text.matches("connection").count(), 1, "{text}");
        let (text, _, keep_alive) = written(200, &[("connection", "keep-alive")], b"ok", KEEP);
        assert!(keep_alive, "{text}");
        let (text, _, keep_alive) = written(
            200,
            &[],
            b"ok",
            Asked {
                keep_alive: false,
                ..KEEP
            },
        );
        assert!(!keep_alive);
        assert!(text.contains("connection: close\r\n"), "{text}");
    }

    #[test]
    fn the_first_content_length_frames_the_body_and_is_written_once() {
        let (text, framing, _) = written(200, &[("content-length", "2"), ("date", "x")], b"ok", KEEP);
        assert_eq!(framing, Framing::Length(2));
        assert_eq!(text.matches("content-length").count(), 1, "{text}");
        assert_eq!(text.matches("date").count(), 1, "a Date given is kept alone: {text}");
        let (_, framing, _) = written(200, &[("content-length", "2"), ("content-length", "5")], b"ok", KEEP);
        assert_eq!(framing, Framing::Length(2), "the first one, as a lookup by name gives");
        let (text, framing, _) = written(200, &[], b"ok", KEEP);
        assert_eq!(framing, Framing::Length(2));
        assert!(
            text.contains("content-length: 2\r\n") && text.contains("date: "),
            "{text}"
        );
        let (text, framing, _) = written(204, &[("content-length", "2")], b"", KEEP);
        assert_eq!(framing, Framing::None);
        assert!(!text.contains("content-length"), "none on a 204: {text}");
        let (text, framing, _) = written(200, &[("transfer-encoding", "chunked")], b"ok", KEEP);
        assert_eq!(framing, Framing::Length(2));
        assert!(!text.contains("transfer-encoding"), "{text}");
    }
}
