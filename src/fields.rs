//! A response's end-to-end fields outside any `HeaderMap`: a server's as
//! our HTTP/1.1 client read them, names and values spans of the head they
//! came in, or a memoised plugin response's, written out once and shared.
//! Written to an HTTP/1.1 client as they are, made `http` types only when
//! a map needs them.

use std::sync::Arc;

use bytes::Bytes;
#[cfg(test)]
use bytes::BytesMut;
use http::header::HeaderMap;
#[cfg(test)]
use http::header::HeaderName;

use crate::header_names::{parsed_value, FieldKind, HeaderNames};

/// A response's end-to-end fields in the order read, outside any
/// `HeaderMap`. The connection's own fields are not among them, so a
/// response our HTTP/1.1 server writes unchanged goes out without its
/// fields ever being hashed into a map and dropped (about a tenth of a
/// proxied request's work); whatever reads or edits the response's
/// headers first appends them to its map (`proxy::fields_into_map`).
/// Names and values stay spans of the head they were read from until
/// then: no `HeaderName` or `HeaderValue` is made, shared and dropped for
/// a field that is only written out, and a run of lines the server wrote
/// as `name: value` CRLF is copied to the client whole, in the server's
/// spelling. A memoised plugin response's fields are written as such lines
/// once ([`Fields::shared_from`]); each response made from it clones them
/// for two reference counts.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    /// The bytes every name and value is a span of.
    head: Bytes,
    list: List,
}

/// The fields of one head: read by our client, or shared by every response
/// made from one (no larger than the `Vec` alone).
#[derive(Debug, Clone)]
enum List {
    Read(Vec<Field>),
    Shared(Arc<[Field]>),
}

impl Default for List {
    fn default() -> List {
        List::Read(Vec::new())
    }
}

impl std::ops::Deref for List {
    type Target = [Field];

    fn deref(&self) -> &[Field] {
        match self {
            List::Read(list) => list,
            List::Shared(list) => list,
        }
    }
}

/// One field: where its name and value lie in [`Fields`]' head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    name: u32,
    name_len: u16,
    kind: FieldKind,
    /// The head holds `name: value` CRLF from `name` on, as written out.
    canonical: bool,
    value: u32,
    value_len: u32,
}

impl Field {
    /// The field whose name and value are these slices of `head` (as
    /// httparse returned them, or as `shared_from` wrote them), with the
    /// name's kind; `None` for a name longer than a `HeaderName` may be.
    pub(crate) fn within(head: &[u8], name: &[u8], value: &[u8], kind: FieldKind) -> Option<Field> {
        let base = head.as_ptr() as usize;
        let name_len = u16::try_from(name.len()).ok()?;
        // Both lie within the head, which is at most `MAX_HEAD` (u32).
        let name_at = name.as_ptr() as usize - base;
        let name_end = name_at + name.len();
        // An empty value is written as one; its place is not relied on.
        let (value_at, canonical) = match value.is_empty() {
            true => (name_end, false),
            false => {
                let at = value.as_ptr() as usize - base;
                let end = at + value.len();
                let canonical = at == name_end + 2
                    && head.get(name_end..at) == Some(b": ")
                    && head.get(end..end + 2) == Some(b"\r\n");
                (at, canonical)
            }
        };
        Some(Field {
            name: name_at as u32,
            name_len,
            kind,
            canonical,
            value: value_at as u32,
            value_len: value.len() as u32,
        })
    }

    pub(crate) fn kind(&self) -> FieldKind {
        self.kind
    }

    /// Where its line ends, past the CRLF (for a canonical one).
    fn line_end(&self) -> usize {
        (self.value + self.value_len) as usize + 2
    }
}

/// A list made of `HeaderValue`s, for tests that write one.
#[cfg(test)]
impl FromIterator<(HeaderName, http::HeaderValue)> for Fields {
    fn from_iter<I: IntoIterator<Item = (HeaderName, http::HeaderValue)>>(fields: I) -> Fields {
        let mut lines = Vec::new();
        for (name, value) in fields {
            lines.extend_from_slice(name.as_str().as_bytes());
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(value.as_bytes());
            lines.extend_from_slice(b"\r\n");
        }
        let mut buf = b"HTTP/1.1 200 OK\r\n".to_vec();
        buf.extend_from_slice(&lines);
        buf.extend_from_slice(b"\r\n");
        match crate::upstream::parse_head(&mut BytesMut::from(&buf[..]), false) {
            Ok(crate::upstream::Parsed::Head(head)) => head.fields,
            other => panic!("not a head: {other:?}"),
        }
    }
}

/// What [`Fields::write_lines`] saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    /// The body's length the first `Content-Length` declares.
    pub length: Option<u64>,
    /// A `Date` was among them.
    pub date: bool,
}

impl Fields {
    /// The fields read from `head`.
    pub(crate) fn new(head: Bytes, list: Vec<Field>) -> Fields {
        Fields {
            head,
            list: List::Read(list),
        }
    }

    /// `headers` as `name: value` CRLF lines, written once for every
    /// response that clones them (a memoised plugin response's: its
    /// lines are then copied to an HTTP/1.1 client whole). `None` for a
    /// name longer than a `Field` holds or lines past 4 GiB.
    pub fn shared_from(headers: &HeaderMap) -> Option<Fields> {
        let mut head = Vec::new();
        let mut spans = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let name = name.as_str().as_bytes();
            let name_at = head.len();
            head.extend_from_slice(name);
            head.extend_from_slice(b": ");
            let value_at = head.len();
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
            spans.push((name_at..name_at + name.len(), value_at..value_at + value.len()));
        }
        u32::try_from(head.len()).ok()?;
        let list = spans
            .into_iter()
            .map(|(name, value)| {
                let (name, value) = (&head[name], &head[value]);
                Field::within(&head, name, value, FieldKind::of(name))
            })
            .collect::<Option<Arc<[Field]>>>()?;
        Some(Fields {
            head: Bytes::from(head),
            list: List::Shared(list),
        })
    }

    /// The fields, in the order read: each name and value as sent (for
    /// tests; the writer and the map read the list themselves).
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.list.iter().map(|field| (self.name(field), self.value(field)))
    }

    fn name(&self, field: &Field) -> &[u8] {
        &self.head[field.name as usize..field.name as usize + usize::from(field.name_len)]
    }

    fn value(&self, field: &Field) -> &[u8] {
        &self.head[field.value as usize..(field.value + field.value_len) as usize]
    }

    /// Writes them as HTTP/1.1 field lines, without `Content-Length` when
    /// `skip_length`. Consecutive lines already written as written here (a
    /// server's in that form, a memoised response's all) are copied as one
    /// run. Says what the writer needs of them, read on
    /// the way (nothing is kept beside the list: every byte of `Fields` is
    /// moved with a response several times).
    pub fn write_lines(&self, out: &mut Vec<u8>, skip_length: bool) -> Written {
        let mut written = Written::default();
        if self.list.is_empty() {
            return written;
        }
        let mut run = 0..0;
        for field in self.list.iter() {
            match field.kind {
                FieldKind::ContentLength => {
                    if written.length.is_none() {
                        written.length = content_length(self.value(field));
                    }
                    if skip_length {
                        continue;
                    }
                }
                FieldKind::Date => written.date = true,
                _ => {}
            }
            if field.canonical {
                if !run.is_empty() && run.end == field.name as usize {
                    run.end = field.line_end();
                    continue;
                }
                out.extend_from_slice(&self.head[run]);
                run = field.name as usize..field.line_end();
                continue;
            }
            out.extend_from_slice(&self.head[run]);
            run = 0..0;
            out.extend_from_slice(self.name(field));
            out.extend_from_slice(b": ");
            out.extend_from_slice(self.value(field));
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(&self.head[run]);
        written
    }

    /// Appends them to `headers`, ahead of what `headers` holds.
    pub fn into_map(self, headers: &mut HeaderMap) {
        if self.list.is_empty() {
            return;
        }
        let added = std::mem::replace(headers, HeaderMap::with_capacity(self.list.len()));
        NAMES.with_borrow_mut(|names| {
            for (position, field) in self.list.iter().enumerate() {
                // Every name httparse accepts is a `HeaderName` (a test in
                // `header_names` walks every byte), of a length one may
                // have (`Field::within`): none is skipped.
                let Ok(name) = names.name(position, self.name(field)) else {
                    continue;
                };
                let start = field.value as usize;
                let value = self.head.slice(start..start + field.value_len as usize);
                // SAFETY: every span is a value httparse accepted
                // (`parse_head`) or a `HeaderValue`'s bytes (`shared_from`).
                #[allow(unsafe_code)]
                let value = unsafe { parsed_value(value) };
                headers.append(name, value);
            }
        });
        let mut last = None;
        for (name, value) in added {
            // `None`: another value of the name before it.
            if let Some(name) = name {
                last = Some(name);
            }
            if let Some(name) = &last {
                headers.append(name.clone(), value);
            }
        }
    }
}

thread_local! {
    /// The names of the fields last made into a map on this thread, by
    /// position: responses from the same servers name the same fields in
    /// the same order, so a name is compared and cloned instead of parsed
    /// (about 135 instructions a name, 2 % of a request over HTTP/2).
    static NAMES: std::cell::RefCell<HeaderNames> = std::cell::RefCell::new(HeaderNames::default());
}

/// A `Content-Length` value: a number, or a list of the same number
/// (RFC 9110 8.6); `None` for anything else.
pub fn content_length(value: &[u8]) -> Option<u64> {
    let number = |digits: &[u8]| digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    // One number, as nearly every server sends it.
    if !value.is_empty() && value.len() <= 19 && value.iter().all(u8::is_ascii_digit) {
        return Some(number(value));
    }
    let mut length = None;
    for item in value.split(|&b| b == b',') {
        let item = item.trim_ascii();
        if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = number(item);
        if length.is_some_and(|l| l != n) {
            return None;
        }
        length = Some(n);
    }
    length
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::{parse_head, Parsed};

    fn fields_of(lines: &[u8]) -> Fields {
        let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
        wire.extend_from_slice(lines);
        wire.extend_from_slice(b"\r\n");
        match parse_head(&mut BytesMut::from(&wire[..]), false) {
            Ok(Parsed::Head(head)) => head.fields,
            other => panic!("{other:?}"),
        }
    }

    fn written(fields: &Fields, skip_length: bool) -> String {
        let mut out = Vec::new();
        fields.write_lines(&mut out, skip_length);
        String::from_utf8(out).unwrap()
    }

    fn seen(fields: &Fields) -> Written {
        fields.write_lines(&mut Vec::new(), true)
    }

    /// Lines go out as the server spelled them; one it wrote in another
    /// form (no space, spaces, a bare LF, an empty value) goes out as
    /// `name: value` CRLF; a dropped field ends a run; a skipped length
    /// is left out.
    #[test]
    fn lines_are_written_as_sent_or_in_canonical_form() {
        let fields = fields_of(
            b"Server: nginx\r\nETag: \"a\"\r\nConnection: keep-alive\r\nX-Tight:1\r\nX-Wide:   2  \r\nX-Lf: 3\nX-Empty:\r\nX-Empty2: \r\nContent-Length: 0\r\nX-Last: 4\r\n",
        );
        assert_eq!(
            written(&fields, false),
            "Server: nginx\r\nETag: \"a\"\r\nX-Tight: 1\r\nX-Wide: 2\r\nX-Lf: 3\r\nX-Empty: \r\nX-Empty2: \r\nContent-Length: 0\r\nX-Last: 4\r\n"
        );
        assert_eq!(
            written(&fields, true),
            "Server: nginx\r\nETag: \"a\"\r\nX-Tight: 1\r\nX-Wide: 2\r\nX-Lf: 3\r\nX-Empty: \r\nX-Empty2: \r\nX-Last: 4\r\n"
        );
        assert_eq!(seen(&fields).length, Some(0));
        assert!(!seen(&fields).date);
        assert!(seen(&fields_of(b"dAtE: x\r\n")).date);
        let first = fields_of(b"X-A: 1\r\ncontent-length: 7, 7\r\n");
        assert_eq!(seen(&first).length, Some(7), "a list of the same number");
    }

    /// A map's fields written once as lines: each in canonical form (an
    /// empty value too), read for framing as a server's are, and the same
    /// map again when a map needs them; a clone shares the lines.
    #[test]
    fn shared_lines_are_the_maps() {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("location", "https://a/b?c"),
            ("x-empty", ""),
            ("x-twice", "1"),
            ("content-length", "5"),
            ("x-twice", "2"),
            ("date", "Mon, 07 Dec 2026 18:00:00 GMT"),
        ] {
            map.append(HeaderName::from_static(name), http::HeaderValue::from_static(value));
        }
        let fields = Fields::shared_from(&map).unwrap();
        let lines = "location: https://a/b?c\r\nx-empty: \r\nx-twice: 1\r\nx-twice: 2\r\ncontent-length: 5\r\ndate: Mon, 07 Dec 2026 18:00:00 GMT\r\n";
        assert_eq!(written(&fields, false), lines, "in the map's order");
        assert_eq!(written(&fields, true), lines.replace("content-length: 5\r\n", ""));
        assert_eq!(seen(&fields).length, Some(5));
        assert!(seen(&fields).date);
        let clone = fields.clone();
        assert!(matches!((&fields.list, &clone.list), (List::Shared(a), List::Shared(b)) if Arc::ptr_eq(a, b)));
        let mut added = HeaderMap::new();
        added.insert("x-added", http::HeaderValue::from_static("1"));
        clone.into_map(&mut added);
        let mut expected = map.clone();
        expected.insert("x-added", http::HeaderValue::from_static("1"));
        assert_eq!(added, expected);
        let order: Vec<&str> = added.keys().map(HeaderName::as_str).collect();
        assert_eq!(order[0], "location", "the lines come ahead of what was added");
        assert!(Fields::shared_from(&HeaderMap::new()).unwrap().list.is_empty());
    }

    /// A name made into a map is the one at its place in these fields,
    /// whatever the thread's earlier maps held there: the same bytes, the
    /// same names elsewhere, other spellings, longer and shorter lists.
    #[test]
    fn every_map_has_its_own_names() {
        let heads: [&[u8]; 6] = [
            b"Server: a\r\nX-A: 1\r\nX-B: 2\r\n",
            b"Server: a\r\nX-A: 1\r\nX-B: 2\r\n",
            b"X-B: 2\r\nServer: a\r\nX-A: 1\r\n",
            b"x-b: 2\r\nSERVER: a\r\n",
            b"X-C: 3\r\nX-B: 2\r\nServer: a\r\nX-A: 1\r\nX-D: 4\r\n",
            b"X-A: 1\r\n",
        ];
        for head in heads {
            let mut map = HeaderMap::new();
            fields_of(head).into_map(&mut map);
            let names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
            let expected: Vec<String> = head
                .split(|&b| b == b'\n')
                .filter(|line| !line.is_empty())
                .map(|line| String::from_utf8(line.split(|&b| b == b':').next().unwrap().to_ascii_lowercase()).unwrap())
                .collect();
            assert_eq!(names, expected, "{}", String::from_utf8_lossy(head));
        }
    }

    /// What goes out of the list equals what a map made from it holds,
    /// name for name (case aside) and value for value, in every form.
    #[test]
    fn written_lines_and_the_map_agree() {
        let lines = b"A: 1\r\nB:2\r\nc:  three\r\nD: \r\nE: caf\xe9\r\nA: 5\r\n";
        let fields = fields_of(lines);
        let mut out = Vec::new();
        fields.write_lines(&mut out, false);
        let written: Vec<(String, Vec<u8>)> = out
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                let line = line.strip_suffix(b"\r").unwrap();
                let colon = line.iter().position(|&b| b == b':').unwrap();
                (
                    String::from_utf8(line[..colon].to_ascii_lowercase()).unwrap(),
                    line[colon + 2..].to_vec(),
                )
            })
            .collect();
        let mut map = HeaderMap::new();
        fields.into_map(&mut map);
        let mut mapped: Vec<(String, Vec<u8>)> = map
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect();
        let mut written = written;
        written.sort();
        mapped.sort();
        assert_eq!(written, mapped);
    }
}
