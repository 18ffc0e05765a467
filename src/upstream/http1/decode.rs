//! The response as read from an HTTP/1.1 connection: its head (status and
//! version, and its fields as spans of the head's bytes, `crate::fields`) and
//! its body's framing (RFC 9112 6.3), decoded from the connection's read
//! buffer.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};
use http_body::Frame;

use super::error::Http1Error;
use crate::fields::{content_length, Field, Fields};
use crate::header_names::{nominates_others, FieldKind};

/// A response head longer than this is refused.
pub const MAX_HEAD: usize = 256 * 1024;
/// At most this many header fields in a head.
const MAX_HEADERS: usize = 128;
/// A chunk-size line or trailer section longer than this is refused.
const MAX_CHUNK_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    /// Status and version; its headers are the response's fields only when
    /// they could not be kept out of a map (a `Connection` naming others,
    /// which the proxy's strip needs), else empty.
    pub parts: http::response::Parts,
    /// The fields otherwise.
    pub fields: Fields,
    /// How its body is framed.
    pub framing: Framing,
    /// Whether the connection may carry another request after it.
    pub keep_alive: bool,
}

/// What the start of the read buffer holds.
#[derive(Debug)]
pub enum Parsed {
    /// A final response head (taken from the buffer).
    Head(Head),
    /// An interim (1xx) response, taken from the buffer and dropped.
    Interim,
    /// Not a whole head yet.
    Partial,
}

/// Parses the response head at the start of `buf`. `head_request`: the
/// request was `HEAD`, so the response has no body whatever it says.
pub fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Parsed, Http1Error> {
    // The fields that frame the body are noted on the way, so no lookup
    // by name is needed for them. The connection's own fields (hop-by-hop:
    // `Connection`, `Keep-Alive`, `Transfer-Encoding`...) are read here and
    // not passed on, as the proxy would strip them; except a `Connection`
    // that names other fields, which the proxy's strip needs.
    let mut seen = Framed::default();
    let mut nominating = false;
    let mut list = Vec::new();
    let (length, status, minor) = {
        let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut []);
        // The head must end within MAX_HEAD bytes: only those are parsed,
        // so the answer is the same however the bytes were read.
        let window = &buf[..buf.len().min(MAX_HEAD)];
        let parsed =
            httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut response, window, &mut fields);
        let length = match parsed {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => {
                if buf.len() >= MAX_HEAD {
                    return Err(Http1Error::HeadTooLarge { limit: MAX_HEAD });
                }
                return Ok(Parsed::Partial);
            }
            Err(error) => return Err(Http1Error::MalformedHead(error)),
        };
        let status = StatusCode::from_u16(response.code.unwrap_or(0))
            .map_err(|_| Http1Error::InvalidHead("status code out of range"))?;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(Http1Error::InvalidHead(
                "101 Switching Protocols to a request that asked no upgrade",
            ));
        }
        if !status.is_informational() {
            list.reserve_exact(response.headers.len());
            for field in response.headers.iter() {
                let kind = FieldKind::of(field.name.as_bytes());
                seen.note(kind, field.value)?;
                if kind.is_hop_by_hop() {
                    if kind != FieldKind::Connection || !nominates_others(field.value) {
                        continue;
                    }
                    nominating = true;
                }
                let field = Field::within(window, field.name.as_bytes(), field.value, kind)
                    .ok_or(Http1Error::InvalidHead("a header name"))?;
                list.push(field);
            }
        }
        (length, status, response.version.unwrap_or(1))
    };
    // The spans are of the head's bytes, where httparse found the fields.
    let head = buf.split_to(length).freeze();
    if status.is_informational() {
        return Ok(Parsed::Interim);
    }
    let version = if minor == 0 { Version::HTTP_10 } else { Version::HTTP_11 };
    let (framing, framing_keeps_alive) = framing(status, head_request, &seen);
    if seen.transfer_encoding && seen.length.is_some() && !matches!(framing, Framing::Empty) {
        // A length beside a transfer coding is ignored (RFC 9112 6.3,
        // point 3), and not passed on.
        list.retain(|field| field.kind() != FieldKind::ContentLength);
    }
    let keep_alive = framing_keeps_alive && version == Version::HTTP_11 && !seen.close;
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.version = version;
    let mut fields = Fields::new(head, list);
    if nominating {
        // The proxy's strip reads it from the map.
        std::mem::take(&mut fields).into_map(&mut parts.headers);
    }
    Ok(Parsed::Head(Head {
        parts,
        fields,
        framing,
        keep_alive,
    }))
}

/// What a head's fields say about framing and the connection.
#[derive(Debug, Default)]
struct Framed {
    /// `Content-Length`, all of its values being the same number.
    length: Option<u64>,
    /// A `Transfer-Encoding` field, and whether its last coding is
    /// `chunked`.
    transfer_encoding: bool,
    chunked: bool,
    /// `Connection: close`.
    close: bool,
}

impl Framed {
    fn note(&mut self, kind: FieldKind, value: &[u8]) -> Result<(), Http1Error> {
        if kind == FieldKind::ContentLength {
            let n = content_length(value).ok_or(Http1Error::BadContentLength)?;
            if self.length.is_some_and(|l| l != n) {
                return Err(Http1Error::BadContentLength);
            }
            self.length = Some(n);
        } else if kind == FieldKind::TransferEncoding {
            self.transfer_encoding = true;
            self.chunked = value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if kind == FieldKind::Connection {
            self.close |= value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        Ok(())
    }
}

/// The body's framing, and whether it leaves the connection reusable.
fn framing(status: StatusCode, head_request: bool, seen: &Framed) -> (Framing, bool) {
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return (Framing::Empty, true);
    }
    if seen.transfer_encoding {
        // A length beside a transfer coding is ignored, and the
        // connection not reused (RFC 9112 6.3, point 3).
        let had_length = seen.length.is_some();
        return match seen.chunked {
            true => (Framing::Chunked(Chunk::Size), !had_length),
            false => (Framing::UntilClose, false),
        };
    }
    match seen.length {
        Some(0) => (Framing::Empty, true),
        Some(n) => (Framing::Length(n), true),
        None => (Framing::UntilClose, false),
    }
}

/// How a response body is framed, and how much of it is left.
#[derive(Debug)]
pub enum Framing {
    /// No body, or all of it read.
    Empty,
    /// This many bytes left (`Content-Length`).
    Length(u64),
    /// Chunked, at this point of a chunk.
    Chunked(Chunk),
    /// Until the server closes the connection.
    UntilClose,
}

/// Where a chunked body's decoding stands.
#[derive(Debug)]
pub enum Chunk {
    /// At a chunk-size line.
    Size,
    /// Inside a chunk: this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields, then the empty line.
    Trailers,
}

/// One step of decoding the buffered bytes.
#[derive(Debug)]
pub enum Step {
    /// A frame of the body.
    Frame(Frame<Bytes>),
    /// The body's end.
    End,
    /// More bytes are needed.
    More,
}

impl Framing {
    /// Whether the whole body has been read.
    pub fn is_end(&self) -> bool {
        matches!(self, Framing::Empty)
    }

    /// Bytes left, when known.
    pub fn remaining(&self) -> Option<u64> {
        match self {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(*n),
            _ => None,
        }
    }

    /// Decodes what `buf` holds, as far as one frame.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Http1Error> {
        match self {
            Framing::Empty => Ok(Step::End),
            Framing::Length(left) => {
                let Some(data) = take_up_to(left, buf) else {
                    return Ok(Step::More);
                };
                if *left == 0 {
                    *self = Framing::Empty;
                }
                Ok(Step::Frame(Frame::data(data)))
            }
            Framing::UntilClose => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                Ok(Step::Frame(Frame::data(buf.split().freeze())))
            }
            Framing::Chunked(chunk) => {
                let step = chunk.decode(buf)?;
                if matches!(step, Step::End) || matches!(&step, Step::Frame(f) if f.is_trailers()) {
                    *self = Framing::Empty;
                }
                Ok(step)
            }
        }
    }

    /// The server closed the connection: the end of an `UntilClose` body,
    /// a cut in any other.
    pub fn closed(&mut self) -> Result<(), Http1Error> {
        let remaining = match self {
            Framing::Empty => return Ok(()),
            Framing::UntilClose => {
                *self = Framing::Empty;
                return Ok(());
            }
            Framing::Length(n) => super::error::Remaining::Bytes(*n),
            Framing::Chunked(_) => super::error::Remaining::Chunks,
        };
        Err(Http1Error::BodyCut { remaining })
    }
}

impl Chunk {
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Http1Error> {
        loop {
            match self {
                Chunk::Size => {
                    let Some(end) = line_end(buf, MAX_CHUNK_LINE)? else {
                        return Ok(Step::More);
                    };
                    let size = chunk_size(&buf[..end])?;
                    buf.advance(end + 2);
                    *self = if size == 0 { Chunk::Trailers } else { Chunk::Data(size) };
                }
                Chunk::Data(left) => {
                    let Some(data) = take_up_to(left, buf) else {
                        return Ok(Step::More);
                    };
                    if *left == 0 {
                        *self = Chunk::DataEnd;
                    }
                    return Ok(Step::Frame(Frame::data(data)));
                }
                Chunk::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Http1Error::BadChunk("no CRLF after a chunk's data"));
                    }
                    buf.advance(2);
                    *self = Chunk::Size;
                }
                Chunk::Trailers => return trailers(buf),
            }
        }
    }
}

/// Up to `left` of the buffered bytes, counted off `left`; `None` when
/// nothing is buffered.
fn take_up_to(left: &mut u64, buf: &mut BytesMut) -> Option<Bytes> {
    if buf.is_empty() {
        return None;
    }
    let take = usize::try_from(*left).map_or(buf.len(), |left| left.min(buf.len()));
    *left -= take as u64;
    Some(buf.split_to(take).freeze())
}

/// The position of the CRLF ending the line at the start of `buf`.
fn line_end(buf: &[u8], limit: usize) -> Result<Option<usize>, Http1Error> {
    match buf.iter().take(limit).position(|&b| b == b'\n') {
        Some(0) => Err(Http1Error::BadChunk("a line without CR")),
        Some(n) if buf[n - 1] == b'\r' => Ok(Some(n - 1)),
        Some(_) => Err(Http1Error::BadChunk("a line without CR")),
        None if buf.len() >= limit => Err(Http1Error::BadChunk("a chunk-size line too long")),
        None => Ok(None),
    }
}

/// A chunk-size line's size (hex digits, then optional extensions).
fn chunk_size(line: &[u8]) -> Result<u64, Http1Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 16 {
        return Err(Http1Error::BadChunk("a chunk size that is not a hex number"));
    }
    let rest = line[digits..].trim_ascii_start();
    if !rest.is_empty() && rest[0] != b';' {
        return Err(Http1Error::BadChunk("junk after a chunk size"));
    }
    Ok(line[..digits].iter().fold(0u64, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        (n << 4) | u64::from(v)
    }))
}

/// The trailer section after the last chunk.
fn trailers(buf: &mut BytesMut) -> Result<Step, Http1Error> {
    if buf.len() < 2 {
        return Ok(Step::More);
    }
    if &buf[..2] == b"\r\n" {
        buf.advance(2);
        return Ok(Step::End);
    }
    // The section must end within MAX_TRAILERS bytes, however it is read.
    let window = &buf[..buf.len().min(MAX_TRAILERS)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= MAX_TRAILERS {
            return Err(Http1Error::BadChunk("a trailer section too long"));
        }
        return Ok(Step::More);
    };
    let section = buf.split_to(end + 4);
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let parsed = match httparse::parse_headers(&section, &mut fields) {
        Ok(httparse::Status::Complete((_, parsed))) => parsed,
        _ => return Err(Http1Error::BadChunk("malformed trailer fields")),
    };
    let mut map = HeaderMap::with_capacity(parsed.len());
    for field in parsed {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| Http1Error::BadChunk("a trailer name"))?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| Http1Error::BadChunk("a trailer value"))?;
        map.append(name, value);
    }
    Ok(Step::Frame(Frame::trailers(map)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    /// The head as parsed.
    fn raw_head(text: &str, head_request: bool) -> Head {
        let mut buf = BytesMut::from(text);
        match parse_head(&mut buf, head_request).expect("valid") {
            Parsed::Head(head) => head,
            other => panic!("{other:?}"),
        }
    }

    fn text(name: &[u8]) -> &str {
        std::str::from_utf8(name).expect("a name is a token")
    }

    /// The head with all its fields in the map.
    fn head(text: &str, head_request: bool) -> Head {
        let mut head = raw_head(text, head_request);
        std::mem::take(&mut head.fields).into_map(&mut head.parts.headers);
        head
    }

    /// Decodes all of `wire` fed `step` bytes at a time: the data, the
    /// trailers, and whether the end was seen.
    fn decode_all(
        mut framing: Framing,
        wire: &[u8],
        step: usize,
    ) -> Result<(Vec<u8>, Option<HeaderMap>, bool), Http1Error> {
        let mut buf = BytesMut::new();
        let (mut data, mut trailers) = (Vec::new(), None);
        let mut fed = 0;
        loop {
            match framing.decode(&mut buf)? {
                Step::Frame(frame) => match frame.into_data() {
                    Ok(bytes) => data.extend_from_slice(&bytes),
                    Err(frame) => trailers = frame.into_trailers().ok(),
                },
                Step::End => return Ok((data, trailers, true)),
                Step::More if fed == wire.len() => {
                    framing.closed()?;
                    return Ok((data, trailers, false));
                }
                Step::More => {
                    let next = (fed + step).min(wire.len());
                    buf.extend_from_slice(&wire[fed..next]);
                    fed = next;
                }
            }
        }
    }

    #[test]
    fn a_head_is_parsed_with_its_framing() {
        let h = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\n",
            false,
        );
        assert_eq!(h.parts.status, StatusCode::OK);
        assert_eq!(h.parts.headers.get_all("x-a").iter().count(), 2);
        assert!(matches!(h.framing, Framing::Length(5)));
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert!(matches!(h.framing, Framing::Empty), "no body after HEAD");
        let h = head("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", false);
        assert!(matches!(h.framing, Framing::Empty));
        let h = head(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(!h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false);
        assert!(!h.keep_alive, "HTTP/1.0 closes");
        let h = head("HTTP/1.1 200 OK\r\n\r\n", false);
        assert!(matches!(h.framing, Framing::UntilClose));
        assert!(!h.keep_alive);
        let h = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n",
            false,
        );
        assert!(matches!(h.framing, Framing::Chunked(_)));
        assert!(!h.keep_alive, "a length beside chunked: not reused");
        assert!(
            !h.parts.headers.contains_key(header::CONTENT_LENGTH),
            "the length is dropped"
        );
    }

    #[test]
    fn the_connections_own_fields_are_read_and_not_passed_on() {
        let h = raw_head(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
            false,
        );
        assert!(matches!(h.framing, Framing::Chunked(_)), "read for the framing");
        assert!(h.keep_alive);
        let names: Vec<&[u8]> = h.fields.iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [b"X-A", b"X-B"],
            "only the end-to-end fields are passed on, as spelled"
        );
        assert!(h.parts.headers.is_empty(), "and kept out of a map");
        // A `Connection` naming other fields stays, for the proxy's strip
        // to remove them too.
        let h = raw_head(
            "HTTP/1.1 200 OK\r\nConnection: close, x-secret\r\nX-Secret: 1\r\nKeep-Alive: 1\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(!h.keep_alive, "close is read");
        assert_eq!(h.fields.iter().count(), 0, "all in the map, for the strip");
        assert_eq!(
            h.parts.headers.get(header::CONNECTION).map(|v| v.as_bytes()),
            Some(&b"close, x-secret"[..])
        );
        assert!(h.parts.headers.contains_key("x-secret"));
        assert!(!h.parts.headers.contains_key("keep-alive"));
    }

    /// Values kept as spans of the head read back as the bytes sent, in
    /// order, whether written from the list or moved into a map; also
    /// after a dropped field, and for a list made of `HeaderValue`s.
    #[test]
    fn kept_fields_read_back_as_sent() {
        let sent: [(&str, &[u8]); 5] = [
            ("x-a", b"1"),
            ("x-empty", b""),
            ("x-a", b"two words, and\tmore"),
            ("x-obs", b"caf\xe9"),
            ("etag", b"\"5f1-abc\""),
        ];
        let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n".to_vec();
        for (name, value) in sent {
            wire.extend_from_slice(format!("{name}: ").as_bytes());
            wire.extend_from_slice(value);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        let mut buf = BytesMut::from(&wire[..]);
        let Ok(Parsed::Head(head)) = parse_head(&mut buf, false) else {
            panic!("not a head");
        };
        let read: Vec<(&str, &[u8])> = head.fields.iter().map(|(n, v)| (text(n), v)).collect();
        assert_eq!(read, sent, "the length beside chunked dropped, the rest as sent");
        let mut map = HeaderMap::new();
        map.insert("x-later", HeaderValue::from_static("z"));
        head.fields.into_map(&mut map);
        let mapped: Vec<(&str, &[u8])> = map.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        let mut expected = sent.to_vec();
        expected.push(("x-later", b"z"));
        // A map keeps a name's values together, in their order.
        expected.sort_by_key(|(name, _)| sent.iter().position(|(n, _)| n == name).unwrap_or(sent.len()));
        assert_eq!(mapped, expected);
        let made: Fields = [("x-b", "1"), ("x-c", "")]
            .into_iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect();
        let read: Vec<(&str, &[u8])> = made.iter().map(|(n, v)| (text(n), v)).collect();
        assert_eq!(read, [("x-b", &b"1"[..]), ("x-c", &b""[..])]);
    }

    #[test]
    fn interim_responses_are_skipped_and_partial_heads_wait() {
        let mut buf = BytesMut::from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n");
        assert!(matches!(parse_head(&mut buf, false), Ok(Parsed::Interim)));
        assert!(matches!(parse_head(&mut buf, false), Ok(Parsed::Partial)));
        buf.extend_from_slice(b"\r\n");
        assert!(matches!(parse_head(&mut buf, false), Ok(Parsed::Head(_))));
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_heads_are_refused() {
        for text in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 20 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(text);
            assert!(parse_head(&mut buf, false).is_err(), "{text:?}");
        }
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX: "[..]);
        buf.extend_from_slice(&vec![b'a'; MAX_HEAD]);
        assert!(matches!(
            parse_head(&mut buf, false),
            Err(Http1Error::HeadTooLarge { .. })
        ));
    }

    #[test]
    fn bodies_decode_whatever_the_reads() {
        let chunked = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 7\r\n\r\n";
        for step in [1, 2, 3, 7, 100] {
            let (data, trailers, end) = decode_all(Framing::Chunked(Chunk::Size), chunked, step).expect("valid");
            assert_eq!(data, b"hello world", "step {step}");
            assert_eq!(trailers.expect("trailers")["x-sum"], "7");
            assert!(end);
            let (data, _, end) =
                decode_all(Framing::Chunked(Chunk::Size), b"3\r\nabc\r\n0\r\n\r\n", step).expect("valid");
            assert_eq!((data.as_slice(), end), (&b"abc"[..], true));
            let (data, _, end) = decode_all(Framing::Length(4), b"abcd", step).expect("valid");
            assert_eq!((data.as_slice(), end), (&b"abcd"[..], true));
            let (data, _, end) = decode_all(Framing::UntilClose, b"until the end", step).expect("valid");
            assert_eq!((data.as_slice(), end), (&b"until the end"[..], false));
        }
    }

    /// Every response of a small corpus, read in reads of every size from
    /// 1 byte up, gives what it gives in one read (the fuzz target
    /// `response_decode` does the same with any bytes).
    #[test]
    fn a_response_reads_the_same_however_it_is_cut() {
        let corpus: [&[u8]; 6] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nX-T: 1\r\n\r\nextra",
            b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ncut",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwikiXX",
            b"HTTP/1.1 20",
        ];
        let summary = |result: Result<super::super::WholeResponse, Http1Error>| match result {
            Ok(r) => format!(
                "{:?} {:?} {:?} {:?} {} {}",
                r.parts.headers, r.lines, r.body, r.trailers, r.keep_alive, r.left_over
            ),
            Err(e) => format!("error: {:?}", std::mem::discriminant(&e)),
        };
        for wire in corpus {
            let whole = summary(super::super::read_response([wire], false));
            for size in 1..=wire.len() {
                let cut = summary(super::super::read_response(wire.chunks(size), false));
                assert_eq!(cut, whole, "{:?} in reads of {size}", String::from_utf8_lossy(wire));
            }
        }
    }

    #[test]
    fn cut_and_malformed_bodies_fail() {
        assert!(matches!(
            decode_all(Framing::Length(10), b"abcd", 4),
            Err(Http1Error::BodyCut { .. })
        ));
        assert!(matches!(
            decode_all(Framing::Chunked(Chunk::Size), b"5\r\nhel", 2),
            Err(Http1Error::BodyCut { .. })
        ));
        for wire in [
            &b"x\r\n"[..],
            b"5\r\nhelloXX",
            b"5\nhello\r\n",
            b"11111111111111111\r\n",
            b"5 junk\r\n",
        ] {
            assert!(
                matches!(
                    decode_all(Framing::Chunked(Chunk::Size), wire, 100),
                    Err(Http1Error::BadChunk(_))
                ),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
    }
}
