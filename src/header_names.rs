//! The header names of the last heads read on one connection, by position,
//! with the bytes they were parsed from. A peer sends the same names in the
//! same order, request after request: a name whose bytes are those at its
//! position is cloned instead of parsed and looked up again (parsing one
//! costs about 135 instructions, comparing and cloning it about 30).
//! A value httparse accepted becomes a `HeaderValue` without being checked
//! a second time (the fourth documented unsafe site).
//! And which names are hop-by-hop: the proxy strips those from every head,
//! and our HTTP/1.1 client does not pass them on from a server's response.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, InvalidHeaderName};

/// One connection's names (both our HTTP/1.1 client and server keep one).
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
/// succeeded (or the same bytes).
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
