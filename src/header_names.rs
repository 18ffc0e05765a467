//! The header names of the last heads read on one connection, by position,
//! with the bytes they were parsed from. A peer sends the same names in the
//! same order, request after request: a name whose bytes are those at its
//! position is cloned instead of parsed and looked up again (parsing one
//! costs about 135 instructions, comparing and cloning it about 30).
//! A value httparse accepted becomes a `HeaderValue` without being checked
//! a second time (the fourth documented unsafe site).
//! And which names are hop-by-hop: the proxy strips those from every head,
//! and our HTTP/1.1 client does not pass them on from a server's response,
//! whose names it sorts by their bytes ([`FieldKind`]) without making a
//! `HeaderName` of each.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, InvalidHeaderName};

/// One connection's names (our HTTP/1.1 server keeps one per client).
#[derive(Debug, Default)]
pub struct HeaderNames {
    known: Vec<(Box<[u8]>, HeaderName)>,
}

impl HeaderNames {
    /// Names beyond this position are parsed each time.
    const POSITIONS: usize = 32;

    /// The name at `position` of a head, as sent (`bytes`).
    pub fn name(&mut self, position: usize, bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
        if let Some((raw, name)) = self.known.get(position) {
            if **raw == *bytes {
                return Ok(name.clone());
            }
        }
        let name = HeaderName::from_bytes(bytes)?;
        let entry = (Box::from(bytes), name.clone());
        if let Some(slot) = self.known.get_mut(position) {
            *slot = entry;
        } else if position == self.known.len() && position < Self::POSITIONS {
            self.known.push(entry);
        }
        Ok(name)
    }
}

/// The first value of `name` in `headers`, as `HeaderMap::get` gives it:
/// the first fields are looked at before a hashed lookup. `Host` is the only
/// field of many requests and the first of nearly every other; a look at
/// each field costs less than hashing the name and probing the map (about
/// 110 instructions).
pub fn first<'m>(headers: &'m HeaderMap, name: &HeaderName) -> Option<&'m HeaderValue> {
    /// Fields (values) looked at before the lookup.
    const LOOKED_AT: usize = 8;
    // The map yields each name's values together, its first one first.
    if let Some((_, value)) = headers.iter().take(LOOKED_AT).find(|(field, _)| *field == name) {
        return Some(value);
    }
    if headers.len() <= LOOKED_AT {
        return None;
    }
    headers.get(name)
}

/// Headers that describe one connection, never forwarded (RFC 9110 7.6.1),
/// with `Upgrade` (upgrades are proxied by `proxy/upgrade.rs`, which puts
/// it back). Compared as strings: a `const` array of `HeaderName`s would be
/// built and dropped on every use.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// What a field's name means to a body's framing and the connection,
/// read from its bytes in any case: our HTTP/1.1 client sorts a server's
/// fields with it, without making a `HeaderName` for each (about 90
/// instructions a field, looked up, compared and dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Any other field: passed on.
    EndToEnd,
    /// `Content-Length`.
    ContentLength,
    /// `Date`.
    Date,
    /// `Transfer-Encoding`.
    TransferEncoding,
    /// `Connection`.
    Connection,
    /// Another of [`is_hop_by_hop`]'s names.
    HopByHop,
}

impl FieldKind {
    /// The kind of the field named `name` (the name's bytes as sent: a
    /// token, as httparse and `HeaderName` take them).
    pub fn of(name: &[u8]) -> FieldKind {
        let is = |known: &[u8]| is_named(name, known);
        // By length first: most names are settled without a comparison.
        match name.len() {
            2 if is(b"te") => FieldKind::HopByHop,
            4 if is(b"date") => FieldKind::Date,
            7 if is(b"trailer") || is(b"upgrade") => FieldKind::HopByHop,
            10 if is(b"connection") => FieldKind::Connection,
            10 if is(b"keep-alive") => FieldKind::HopByHop,
            14 if is(b"content-length") => FieldKind::ContentLength,
            16 if is(b"proxy-connection") => FieldKind::HopByHop,
            17 if is(b"transfer-encoding") => FieldKind::TransferEncoding,
            18 if is(b"proxy-authenticate") => FieldKind::HopByHop,
            19 if is(b"proxy-authorization") => FieldKind::HopByHop,
            _ => FieldKind::EndToEnd,
        }
    }

    /// Whether the name is one [`is_hop_by_hop`] names.
    pub fn is_hop_by_hop(self) -> bool {
        matches!(
            self,
            FieldKind::TransferEncoding | FieldKind::Connection | FieldKind::HopByHop
        )
    }
}

/// Whether `name`, a token of `lower`'s length, is `lower` (lowercase
/// letters and `-`) in any case: each byte ORed with 0x20, eight at a
/// time. Exact for tokens: a letter ORed with 0x20 is only ever its own
/// lower case, and the one other byte that becomes `-` is CR, never in a
/// token.
fn is_named(name: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let word = |bytes: &[u8], at: usize| {
        bytes
            .get(at..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map(|w| u64::from_le_bytes(*w))
    };
    let len = lower.len();
    if name.len() != len {
        return false;
    }
    if len < 8 {
        return name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b);
    }
    let mut at = 0;
    while at + 8 < len {
        if word(name, at).map(|w| w | CASE) != word(lower, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping what was compared.
    word(name, len - 8).map(|w| w | CASE) == word(lower, len - 8)
}

/// Whether a `Connection` value names a header to remove beside the
/// hop-by-hop ones: a token that is neither an option (`keep-alive`,
/// `close`) nor a hop-by-hop header's name.
pub fn nominates_others(value: &[u8]) -> bool {
    // The values nearly every peer sends, spelled as they send them: a
    // byte comparison instead of a case-blind one per token.
    if matches!(value, b"keep-alive" | b"close" | b"Keep-Alive" | b"Close") {
        return false;
    }
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .any(|token| !token.is_empty() && !is_connection_option(token))
}

/// A `Connection` token that names no other header: an option, or a
/// header removed anyway.
fn is_connection_option(token: &[u8]) -> bool {
    token.eq_ignore_ascii_case(b"keep-alive")
        || token.eq_ignore_ascii_case(b"close")
        || HeaderName::from_bytes(token).is_ok_and(|name| is_hop_by_hop(&name))
}

/// A field value as `HeaderValue`, from bytes httparse accepted as one.
/// httparse takes tab, space, visible ASCII and obs-text (0x80-0xFF) in a
/// value and refuses a head with any other byte in one: exactly the bytes
/// `HeaderValue` allows, so checking them again (about 90 instructions a
/// value, 3 % of a proxied request) is skipped. A test holds every byte
/// httparse lets through to `HeaderValue`'s own check, so an httparse that
/// widened its set would fail it.
///
/// # Safety
/// `value` must be a field value httparse returned from a parse that
/// succeeded (or the same bytes), or a `HeaderValue`'s bytes.
#[allow(unsafe_code)]
pub unsafe fn parsed_value(value: Bytes) -> HeaderValue {
    // SAFETY: the caller's bytes passed httparse's value check, which
    // allows exactly what `HeaderValue` does (see above). Debug builds
    // check again inside `http` and panic if that ever stops being true.
    unsafe { HeaderValue::from_maybe_shared_unchecked(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `first` answers what `get` does, wherever the name is (among the
    /// fields looked at or beyond, once or repeated, or absent), for maps
    /// of every size around the number looked at.
    #[test]
    fn first_is_get() {
        let names = [http::header::HOST, http::header::ACCEPT, HeaderName::from_static("x-a")];
        for size in 0..=12 {
            for pattern in 0..3usize.pow(size.min(7) as u32) {
                let mut headers = HeaderMap::new();
                let mut digits = pattern;
                for position in 0..size {
                    // Positions past 7 take the name of position 7 onwards
                    // in turn: the tail is covered by the larger sizes.
                    let which = match position < 7 {
                        true => digits % 3,
                        false => position % 3,
                    };
                    digits /= 3;
                    let value = HeaderValue::from_str(&position.to_string()).unwrap();
                    headers.append(names[which].clone(), value);
                }
                for name in &names {
                    assert_eq!(first(&headers, name), headers.get(name), "{name} in {headers:?}");
                }
                assert_eq!(first(&headers, &http::header::DATE), None);
            }
        }
    }

    /// Options and hop-by-hop names, in any case and list, nominate
    /// nothing; any other token does, whatever comes before it.
    #[test]
    fn a_connection_value_nominates_only_other_fields() {
        for value in [
            "keep-alive",
            "Keep-Alive",
            "KEEP-ALIVE",
            "close",
            "Close",
            "close, te",
            " Upgrade ,keep-alive",
            "",
        ] {
            assert!(!nominates_others(value.as_bytes()), "{value:?}");
        }
        for value in [
            "x-secret",
            "keep-alive, x-secret",
            "Close, X-Secret",
            "keep-alive-x",
            "closed",
        ] {
            assert!(nominates_others(value.as_bytes()), "{value:?}");
        }
    }

    /// A name's kind read from its bytes agrees with the `HeaderName`
    /// lookups elsewhere, in any case, for the hop-by-hop names, the
    /// framing's, and names one letter off or of the same lengths.
    #[test]
    fn kinds_read_from_bytes_agree_with_header_names() {
        let names = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "proxy-authenticate",
            "proxy-authorization",
            "te",
            "trailer",
            "transfer-encoding",
            "upgrade",
            "content-length",
            "date",
            "server",
            "content-type",
            "etag",
            "accept-ranges",
            "last-modified",
            "tf",
            "t",
            "datf",
            "trailers",
            "upgradf",
            "connectioo",
            "keep-alivf",
            "content-lengtg",
            "proxy-connectioo",
            "transfer-encodinh",
            "proxy-authenticatf",
            "proxy-authorizatioo",
            "x-forwarded-for",
            "vary",
            "via",
            "age",
            "x",
        ];
        for name in names {
            let header = HeaderName::from_static(name);
            for spelled in [name.to_string(), name.to_ascii_uppercase(), capitalised(name)] {
                let kind = FieldKind::of(spelled.as_bytes());
                assert_eq!(kind.is_hop_by_hop(), is_hop_by_hop(&header), "{spelled}");
                assert_eq!(
                    kind == FieldKind::ContentLength,
                    header == http::header::CONTENT_LENGTH,
                    "{spelled}"
                );
                assert_eq!(kind == FieldKind::Date, header == http::header::DATE, "{spelled}");
                assert_eq!(
                    kind == FieldKind::Connection,
                    header == http::header::CONNECTION,
                    "{spelled}"
                );
                assert_eq!(
                    kind == FieldKind::TransferEncoding,
                    header == http::header::TRANSFER_ENCODING,
                    "{spelled}"
                );
            }
        }
    }

    /// Each known name with any one byte replaced by any token byte (what
    /// httparse lets into a name): the kind still agrees with the lookups,
    /// so the case-blind word compare takes no other byte for a letter or
    /// `-`.
    #[test]
    fn kinds_agree_for_every_one_byte_change() {
        let token: Vec<u8> = (0u8..=127)
            .filter(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
            .collect();
        let known = [
            "te",
            "date",
            "trailer",
            "upgrade",
            "connection",
            "keep-alive",
            "content-length",
            "proxy-connection",
            "transfer-encoding",
            "proxy-authenticate",
            "proxy-authorization",
        ];
        for name in known {
            for at in 0..name.len() {
                for &byte in &token {
                    let mut spelled = name.as_bytes().to_vec();
                    spelled[at] = byte;
                    let header = HeaderName::from_bytes(&spelled).unwrap();
                    let kind = FieldKind::of(&spelled);
                    let shown = String::from_utf8_lossy(&spelled);
                    assert_eq!(kind.is_hop_by_hop(), is_hop_by_hop(&header), "{shown}");
                    assert_eq!(
                        kind == FieldKind::ContentLength,
                        header == http::header::CONTENT_LENGTH,
                        "{shown}"
                    );
                    assert_eq!(kind == FieldKind::Date, header == http::header::DATE, "{shown}");
                }
            }
        }
    }

    /// Names shorter than a word, of one word, of a word and a part, of
    /// two: every byte is compared, whatever its place.
    #[test]
    fn a_name_is_compared_to_its_last_byte() {
        for lower in [
            "upgrade",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
        ] {
            assert!(is_named(lower.as_bytes(), lower.as_bytes()), "{lower}");
            assert!(
                is_named(lower.to_ascii_uppercase().as_bytes(), lower.as_bytes()),
                "{lower}"
            );
            for at in 0..lower.len() {
                let mut other = lower.as_bytes().to_vec();
                other[at] = b'x' ^ (other[at] & 1);
                assert!(!is_named(&other, lower.as_bytes()), "{lower} at {at}");
            }
            assert!(!is_named(&lower.as_bytes()[1..], lower.as_bytes()), "a shorter name");
        }
    }

    fn capitalised(name: &str) -> String {
        let mut up = true;
        name.chars()
            .map(|c| {
                let out = if up { c.to_ascii_uppercase() } else { c };
                up = c == '-';
                out
            })
            .collect()
    }

    /// Every byte in a field name of a response: either httparse refuses
    /// the head, or `HeaderName` accepts the name. Our HTTP/1.1 client
    /// passes names on as sent and makes a `HeaderName` only when a map
    /// needs one, which can then not fail.
    #[test]
    fn every_name_httparse_accepts_is_a_header_name() {
        let mut accepted = 0;
        for byte in 0..=255u8 {
            let name = [b'a', byte, b'z'];
            let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
            head.extend_from_slice(&name);
            head.extend_from_slice(b": v\r\n\r\n");
            let mut fields = [httparse::EMPTY_HEADER; 4];
            let mut response = httparse::Response::new(&mut fields);
            if let Ok(httparse::Status::Complete(_)) = response.parse(&head) {
                let parsed = response.headers[0].name.as_bytes();
                assert!(HeaderName::from_bytes(parsed).is_ok(), "byte {byte:#04x}");
                // A colon ends the name before it.
                accepted += usize::from(parsed == name);
            }
        }
        // RFC 9110's token characters: 15 symbols, 10 digits, 52 letters.
        assert_eq!(accepted, 15 + 10 + 52);
    }

    /// Every byte in a field value of a request and of a response: either
    /// httparse refuses the head, or `HeaderValue` accepts the value.
    #[test]
    fn every_value_httparse_accepts_is_a_header_value() {
        let mut accepted = 0;
        for byte in 0..=255u8 {
            let value = [b'a', byte, b'z'];
            let mut request_head = b"GET / HTTP/1.1\r\nx-v: ".to_vec();
            request_head.extend_from_slice(&value);
            request_head.extend_from_slice(b"\r\n\r\n");
            let mut fields = [httparse::EMPTY_HEADER; 4];
            let mut request = httparse::Request::new(&mut fields);
            if let Ok(httparse::Status::Complete(_)) = request.parse(&request_head) {
                let parsed = request.headers[0].value;
                assert!(HeaderValue::from_bytes(parsed).is_ok(), "byte {byte:#04x} in a request");
                accepted += 1;
            }
            let mut response_head = b"HTTP/1.1 200 OK\r\nx-v: ".to_vec();
            response_head.extend_from_slice(&value);
            response_head.extend_from_slice(b"\r\n\r\n");
            let mut fields = [httparse::EMPTY_HEADER; 4];
            let mut response = httparse::Response::new(&mut fields);
            if let Ok(httparse::Status::Complete(_)) = response.parse(&response_head) {
                let parsed = response.headers[0].value;
                assert!(
                    HeaderValue::from_bytes(parsed).is_ok(),
                    "byte {byte:#04x} in a response"
                );
                accepted += 1;
            }
        }
        // Tab, space to `~`, and 0x80-0xFF, in both.
        assert_eq!(accepted, 2 * (1 + 95 + 128));
    }
}
