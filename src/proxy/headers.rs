//! Header work on the proxy path: hop-by-hop removal, `X-Forwarded-For`,
//! and applying plugins' header edits.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::header_names::{is_hop_by_hop, nominates_others};
use crate::plugin::{CheckedOp, HeaderOp};

/// Headers a client may not make hop-by-hop by naming them in
/// `Connection`: dropping them would change how the server routes or frames
/// the request.
static NEVER_NOMINATED: [HeaderName; 3] = [header::HOST, header::CONTENT_LENGTH, header::CONTENT_TYPE];

/// What one pass over a head's fields found: what the work on it would
/// otherwise look up by name, one hash and probe each.
#[derive(Debug, Default)]
pub struct Scan {
    /// A `Host`.
    pub host: bool,
    /// A `TE`.
    pub te: bool,
    /// Hop-by-hop fields (values), `Connection`'s among them.
    hop_by_hop: usize,
    connection: bool,
    /// A `Connection` that names other fields.
    nominating: bool,
}

impl Scan {
    /// Scans `headers`.
    pub fn of(headers: &HeaderMap) -> Scan {
        let mut scan = Scan::default();
        for (name, value) in headers {
            if *name == header::HOST {
                scan.host = true;
            } else if is_hop_by_hop(name) {
                scan.hop_by_hop += 1;
                if *name == header::CONNECTION {
                    scan.connection = true;
                    scan.nominating |= nominates_others(value.as_bytes());
                } else if *name == header::TE {
                    scan.te = true;
                }
            }
        }
        scan
    }
}

/// Removes hop-by-hop headers, including those the `Connection` header
/// names (except the few in `NEVER_NOMINATED`). `Upgrade` goes too:
/// upgrades are not proxied.
///
/// On the request path this runs for every request and response, and most
/// heads carry no hop-by-hop header but `Connection` (naming only
/// `keep-alive` or `close`): nothing is allocated or hashed for them, each
/// name found is removed by a pass over the names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // A pass over the names alone (cheaper than `Scan::of`'s over the
    // values too): most heads have no hop-by-hop field at all.
    let (mut hop_by_hop, mut connection) = (0usize, false);
    for name in headers.keys() {
        if is_hop_by_hop(name) {
            hop_by_hop += 1;
            connection |= *name == header::CONNECTION;
        }
    }
    if hop_by_hop == 0 {
        return;
    }
    let nominating = connection
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|v| nominates_others(v.as_bytes()));
    let scan = Scan {
        hop_by_hop,
        connection,
        nominating,
        ..Scan::default()
    };
    strip_scanned(headers, &scan);
}

/// [`strip_hop_by_hop`] on a head already scanned (`scan` is of
/// `headers` as they are): the request's, whose `Connection` a client
/// nearly always sends.
pub fn strip_scanned(headers: &mut HeaderMap, scan: &Scan) {
    // Most heads carry none (a plugin's redirect, many origins' pages) or
    // only `Connection`. `Connection` is hop-by-hop itself, so a head
    // without any has nothing nominated either.
    if scan.hop_by_hop == 0 {
        return;
    }
    if scan.nominating {
        let nominated: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .filter(|name| !NEVER_NOMINATED.contains(name) && !is_hop_by_hop(name))
            .collect();
        for name in nominated {
            headers.remove(name);
        }
    }
    if scan.hop_by_hop == 1 && scan.connection {
        // `Connection: keep-alive` or `close` alone, the common case.
        headers.remove(header::CONNECTION);
        return;
    }
    while let Some(name) = headers.keys().find(|name| is_hop_by_hop(name)).cloned() {
        headers.remove(name);
    }
}

/// Appends the client's address (`client`, already a header value) to
/// `X-Forwarded-For`, keeping what earlier proxies wrote (one
/// comma-separated header, as most servers expect).
pub fn append_forwarded_for(headers: &mut HeaderMap, client: &HeaderValue) {
    // Made once, at compile time (`from_static` at run time parses the name).
    const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    // One hash of the name, for the look and the insertion.
    let mut entry = match headers.entry(X_FORWARDED_FOR) {
        header::Entry::Vacant(vacant) => {
            vacant.insert(client.clone());
            return;
        }
        header::Entry::Occupied(occupied) => occupied,
    };
    let mut joined = Vec::new();
    for value in entry.iter() {
        joined.extend_from_slice(value.as_bytes());
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(client.as_bytes());
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        entry.insert(value);
    }
}

/// An edit a plugin asked for that is not valid HTTP.
#[derive(Debug, thiserror::Error)]
#[error("invalid header edit from a plugin: {0}")]
pub struct BadHeaderEdit(String);

/// Applies a request's plugin edits ([`apply_edits`]), then strips the
/// head again, so a plugin cannot make a connection-level header reach the
/// server. (Stripping only after an edit that adds a hop-by-hop header was
/// measured: -0.5 % instructions on keep-alive, not kept.)
pub fn apply_request_edits(headers: &mut HeaderMap, edits: &[HeaderOp]) -> Vec<BadHeaderEdit> {
    let bad = apply_edits(headers, edits);
    strip_hop_by_hop(headers);
    bad
}

/// Applies plugin edits in order. Invalid names or values are skipped and
/// returned, so the caller can log them; the rest still apply.
pub fn apply_edits(headers: &mut HeaderMap, edits: &[HeaderOp]) -> Vec<BadHeaderEdit> {
    let mut bad = Vec::new();
    for edit in edits {
        let result = match edit {
            HeaderOp::Set(h) => parse(&h.name, &h.value).map(|(n, v)| {
                headers.insert(n, v);
            }),
            HeaderOp::Append(h) => parse(&h.name, &h.value).map(|(n, v)| {
                headers.append(n, v);
            }),
            HeaderOp::Remove(name) => HeaderName::from_bytes(name.as_bytes())
                .map(|n| {
                    headers.remove(n);
                })
                .map_err(|_| BadHeaderEdit(format!("name {name:?}"))),
            HeaderOp::Checked(CheckedOp::Set(name, value)) => {
                headers.insert(name.clone(), value.clone());
                Ok(())
            }
            HeaderOp::Checked(CheckedOp::Append(name, value)) => {
                headers.append(name.clone(), value.clone());
                Ok(())
            }
            HeaderOp::Checked(CheckedOp::Remove(name)) => {
                headers.remove(name);
                Ok(())
            }
        };
        if let Err(e) = result {
            bad.push(e);
        }
    }
    bad
}

fn parse(name: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), BadHeaderEdit> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| BadHeaderEdit(format!("name {name:?}")))?;
    let value = HeaderValue::from_bytes(value)
        .map_err(|_| BadHeaderEdit(format!("value of {name} ({:?})", String::from_utf8_lossy(value))))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Header;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in pairs {
            m.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
            ("content-length", "3"),
        ]);
        strip_hop_by_hop(&mut h);
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-length", "x-kept"]);
        let mut options = map(&[("Connection", "Keep-Alive"), ("host", "a"), ("x-kept", "yes")]);
        strip_hop_by_hop(&mut options);
        let mut names: Vec<&str> = options.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["host", "x-kept"]);
        let mut named = map(&[("connection", "close , X-Secret"), ("x-secret", "1"), ("host", "a")]);
        strip_hop_by_hop(&mut named);
        assert_eq!(named.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["host"]);
        let mut plain = map(&[("host", "a"), ("x-kept", "yes")]);
        strip_hop_by_hop(&mut plain);
        assert_eq!(plain.len(), 2);
    }

    #[test]
    fn a_plugin_cannot_add_a_connection_level_header() {
        let checked = |name: &'static str, value: &'static str| {
            HeaderOp::Checked(CheckedOp::Append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ))
        };
        let raw = |name: &str, value: &str| {
            HeaderOp::Set(Header {
                name: name.into(),
                value: value.into(),
            })
        };
        for edits in [
            vec![
                checked("x-forwarded-proto", "https"),
                checked("transfer-encoding", "chunked"),
            ],
            vec![raw("Connection", "x-kept"), raw("X-Forwarded-Proto", "https")],
            vec![raw("Keep-Alive", "timeout=5"), checked("x-forwarded-proto", "https")],
        ] {
            let mut h = map(&[("host", "a"), ("x-kept", "yes")]);
            assert!(apply_request_edits(&mut h, &edits).is_empty());
            let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
            names.sort_unstable();
            let expected: &[&str] = if edits
                .iter()
                .any(|e| matches!(e, HeaderOp::Set(h) if h.name == "Connection"))
            {
                // Connection named x-kept: it goes with it.
                &["host", "x-forwarded-proto"]
            } else {
                &["host", "x-forwarded-proto", "x-kept"]
            };
            assert_eq!(names, expected, "{edits:?}");
        }
        let mut h = map(&[("host", "a")]);
        apply_request_edits(&mut h, &[checked("x-forwarded-proto", "http")]);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn forwarded_for_appends_to_what_is_there() {
        let mut h = map(&[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-for", "10.0.0.1")]);
        append_forwarded_for(&mut h, &HeaderValue::from_static("127.0.0.1"));
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 10.0.0.1, 127.0.0.1");
        let mut empty = HeaderMap::new();
        append_forwarded_for(&mut empty, &HeaderValue::from_static("::1"));
        assert_eq!(empty["x-forwarded-for"], "::1");
    }

    #[test]
    fn edits_apply_in_order_and_bad_ones_are_reported() {
        let mut h = map(&[("x-forwarded-proto", "https"), ("x-a", "1")]);
        let header = |n: &str, v: &[u8]| Header {
            name: n.into(),
            value: v.to_vec(),
        };
        let bad = apply_edits(
            &mut h,
            &[
                HeaderOp::Set(header("X-Forwarded-Proto", b"http")),
                HeaderOp::Append(header("x-a", b"2")),
                HeaderOp::Remove("x-missing".into()),
                HeaderOp::Set(header("bad name", b"v")),
                HeaderOp::Set(header("x-nul", b"a\0b")),
                HeaderOp::Append(header("x-bytes", &[0xff, 0xfe])),
            ],
        );
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        assert_eq!(h["x-bytes"].as_bytes(), &[0xff, 0xfe]);
        assert_eq!(bad.len(), 2, "{bad:?}");
    }
}
