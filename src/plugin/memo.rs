//! Request-hook decisions the host reuses (contract 0.2's `memo`).
//!
//! A plugin that exports `memo` names the parts of a request its decision
//! depends on. The host builds a key from exactly those parts (one byte
//! string: each part length-prefixed, so no two requests that differ in a
//! declared part share a key), calls the plugin on the first request with
//! that key and gives every later one its decision without entering Wasm.
//! The memo belongs to one loaded version (its component and
//! configuration) and is emptied when a new generation is published: a
//! decision lives until the plugin, its configuration or the generation
//! changes. It holds at most `max-entries` keys and starts over when full:
//! memory stays bounded whatever clients send.
//!
//! A key is built on the stack (up to [`INLINE_KEY`] bytes) and looked up
//! with `foldhash`, seeded at random per memo: a hit costs no allocation
//! and no SipHash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use super::decision::{Action, Decision};
use super::request_view::RequestView;

/// `max-entries` when the plugin says 0.
pub const DEFAULT_ENTRIES: usize = 1024;
/// The largest `max-entries` a plugin may ask for.
pub const MAX_ENTRIES: usize = 65_536;
/// Bytes of a key kept on the stack; a longer one spills to the heap.
pub const INLINE_KEY: usize = 128;

/// A request's key in a memo: on the stack while it fits.
#[derive(Debug, Clone)]
pub struct Key {
    inline: [u8; INLINE_KEY],
    len: usize,
    spilled: Option<Vec<u8>>,
}

impl Key {
    fn new() -> Key {
        Key {
            inline: [0; INLINE_KEY],
            len: 0,
            spilled: None,
        }
    }

    /// A part: a marker for absent values, its length, its bytes.
    fn put(&mut self, present: bool, bytes: &[u8]) {
        let mut prefix = [u8::from(present), 0, 0, 0, 0];
        prefix[1..].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
        let start = self.len;
        let end = start + prefix.len() + bytes.len();
        match self.inline.get_mut(start..end) {
            // The common case in one step: the prefix as one store, the
            // bytes as one copy.
            Some(room) if self.spilled.is_none() => {
                room[..prefix.len()].copy_from_slice(&prefix);
                room[prefix.len()..].copy_from_slice(bytes);
                self.len = end;
            }
            _ => {
                self.extend(&prefix);
                self.extend(bytes);
            }
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        if let Some(spilled) = &mut self.spilled {
            spilled.extend_from_slice(bytes);
            return;
        }
        let end = self.len + bytes.len();
        match self.inline.get_mut(self.len..end) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len = end;
            }
            None => {
                let mut spilled = Vec::with_capacity(end * 2);
                spilled.extend_from_slice(&self.inline[..self.len]);
                spilled.extend_from_slice(bytes);
                self.spilled = Some(spilled);
            }
        }
    }

    /// The key's bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.spilled {
            Some(spilled) => spilled,
            None => &self.inline[..self.len],
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

impl std::ops::Deref for Key {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// The parts of a request a decision depends on (the WIT `request-parts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// `request.scheme`.
    pub scheme: bool,
    /// `request.listener`.
    pub listener: bool,
    /// `request.local-port`.
    pub local_port: bool,
    /// `request.method`.
    pub method: bool,
    /// `request.authority`.
    pub authority: bool,
    /// `request.path`.
    pub path: bool,
    /// `request.query`.
    pub query: bool,
    /// `request.version`.
    pub version: bool,
    /// `request.tls-server-name`.
    pub tls_server_name: bool,
}

/// What a plugin's decision depends on, as it declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoKey {
    /// The request's parts.
    pub parts: Parts,
    /// Header names, lower case.
    pub headers: Vec<http::HeaderName>,
    /// At most this many keys are kept.
    pub max_entries: usize,
}

/// A plugin version's reusable decisions.
#[derive(Debug)]
pub struct Memo {
    key: MemoKey,
    decisions: RwLock<HashMap<Box<[u8]>, Decision, foldhash::quality::RandomState>>,
    hits: AtomicU64,
}

impl Memo {
    /// An empty memo for decisions that depend on `key`.
    pub fn new(key: MemoKey) -> Memo {
        Memo {
            key,
            decisions: RwLock::new(HashMap::default()),
            hits: AtomicU64::new(0),
        }
    }

    /// What the plugin declared.
    pub fn key(&self) -> &MemoKey {
        &self.key
    }

    /// The key of `view`: its declared parts, each length-prefixed.
    pub fn key_of(&self, view: &RequestView) -> Key {
        let parts = self.key.parts;
        let mut key = Key::new();
        let mut put = |present: bool, bytes: &[u8]| key.put(present, bytes);
        if parts.scheme {
            put(true, view.conn.scheme.as_str().as_bytes());
        }
        if parts.listener {
            put(true, view.conn.listener.as_bytes());
        }
        if parts.local_port {
            put(true, &view.conn.local.port().to_le_bytes());
        }
        if parts.method {
            put(true, view.head.method.as_str().as_bytes());
        }
        if parts.authority {
            let authority = view.authority();
            put(authority.is_some(), authority.unwrap_or("").as_bytes());
        }
        if parts.path {
            put(true, view.head.uri.path().as_bytes());
        }
        if parts.query {
            let query = view.head.uri.query();
            put(query.is_some(), query.unwrap_or("").as_bytes());
        }
        if parts.version {
            put(true, view.version_name().as_bytes());
        }
        if parts.tls_server_name {
            let name = view.conn.server_name.as_deref();
            put(name.is_some(), name.unwrap_or("").as_bytes());
        }
        for name in &self.key.headers {
            let values = view.head.headers.get_all(name);
            let mut count = 0u32;
            for value in values {
                put(true, value.as_bytes());
                count += 1;
            }
            // The count ends the header's values: [a][b] differs from [a, b]
            // of the next header.
            put(false, &count.to_le_bytes());
        }
        key
    }

    /// The decision made for `key`, if one was.
    pub fn get(&self, key: &[u8]) -> Option<Decision> {
        let decisions = self.decisions.read().unwrap_or_else(|p| p.into_inner());
        let decision = decisions.get(key)?.clone();
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(decision)
    }

    /// Keeps `decision` for `key` (never an `ask`), in checked form;
    /// starts over when full.
    pub fn put(&self, key: Key, decision: &Decision) {
        if matches!(decision.action, Action::Ask(_)) {
            return;
        }
        let decision = decision.checked();
        let mut decisions = self.decisions.write().unwrap_or_else(|p| p.into_inner());
        if decisions.len() >= self.key.max_entries && !decisions.contains_key(key.as_slice()) {
            decisions.clear();
        }
        decisions.insert(Box::from(key.as_slice()), decision);
    }

    /// Forgets every decision (a new generation).
    pub fn clear(&self) {
        self.decisions.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.decisions.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether it holds no decision.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Requests answered from the memo so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::decision::{CheckedOp, DirectResponse, EditList, Header, HeaderOp};
    use crate::plugin::request_view::ConnectionInfo;
    use crate::plugin::Scheme;
    use std::sync::Arc;

    fn view(scheme: Scheme, uri: &str, headers: &[(&str, &str)]) -> RequestView {
        let mut request = http::Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (head, ()) = request.body(()).unwrap().into_parts();
        let address = "127.0.0.1:80".parse().unwrap();
        RequestView {
            head,
            conn: Arc::new(ConnectionInfo::new(address, address, scheme, Arc::from("web"))),
        }
    }

    fn memo(parts: Parts, headers: &[&'static str], max_entries: usize) -> Memo {
        Memo::new(MemoKey {
            parts,
            headers: headers.iter().map(|h| http::HeaderName::from_static(h)).collect(),
            max_entries,
        })
    }

    const PATH_AND_QUERY: Parts = Parts {
        path: true,
        query: true,
        scheme: false,
        listener: false,
        local_port: false,
        method: false,
        authority: false,
        version: false,
        tls_server_name: false,
    };

    fn set(value: &str) -> Decision {
        Decision {
            action: Action::Continue,
            request_headers: vec![HeaderOp::Set(Header {
                name: "x-forwarded-proto".into(),
                value: value.as_bytes().to_vec(),
            })]
            .into(),
            response_headers: EditList::new(),
        }
    }

    #[test]
    fn only_the_declared_parts_make_the_key() {
        let by_scheme = memo(
            Parts {
                scheme: true,
                ..Parts::default()
            },
            &[],
            16,
        );
        let a = by_scheme.key_of(&view(Scheme::Http, "/a?x=1", &[("host", "one")]));
        let b = by_scheme.key_of(&view(Scheme::Http, "/b", &[("host", "two")]));
        let c = by_scheme.key_of(&view(Scheme::Https, "/a?x=1", &[("host", "one")]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let by_path_and_query = memo(PATH_AND_QUERY, &[], 16);
        let with_empty_query = by_path_and_query.key_of(&view(Scheme::Http, "/a?", &[]));
        let without_query = by_path_and_query.key_of(&view(Scheme::Http, "/a", &[]));
        assert_ne!(with_empty_query, without_query, "an empty query is not an absent one");
        assert_ne!(
            by_path_and_query.key_of(&view(Scheme::Http, "/a?x=1", &[])),
            by_path_and_query.key_of(&view(Scheme::Http, "/b?x=2", &[])),
            "parts of the same lengths differ by their bytes"
        );
    }

    #[test]
    fn keys_longer_than_the_stack_buffer_keep_every_byte() {
        let by_path_and_query = memo(PATH_AND_QUERY, &[], 16);
        let key = |target: &str| by_path_and_query.key_of(&view(Scheme::Http, target, &[]));
        let long = format!("/{}", "a".repeat(INLINE_KEY * 3));
        assert_eq!(key(&long).len(), 5 + long.len() + 5, "markers, lengths, every byte");
        assert_eq!(key(&format!("{long}?x=1")), key(&format!("{long}?x=1")));
        assert_ne!(
            key(&format!("{long}?x=1")),
            key(&format!("{long}?x=2")),
            "a part after the spill counts"
        );
        assert_ne!(key(&long), key(&format!("{long}b")), "the bytes past the buffer count");
        let just_over = format!("/{}", "b".repeat(INLINE_KEY - 5));
        assert_ne!(key(&just_over), key(&format!("{just_over}c")));
        by_path_and_query.put(key(&long), &set("long"));
        assert_eq!(by_path_and_query.get(&key(&long)), Some(set("long").checked()));
        assert_eq!(by_path_and_query.get(&key(&format!("{long}b"))), None);
    }

    #[test]
    fn header_values_are_kept_apart() {
        let by_headers = memo(Parts::default(), &["x-a", "x-b"], 16);
        let one = by_headers.key_of(&view(Scheme::Http, "/", &[("x-a", "1"), ("x-a", "2")]));
        let two = by_headers.key_of(&view(Scheme::Http, "/", &[("x-a", "1"), ("x-b", "2")]));
        let none = by_headers.key_of(&view(Scheme::Http, "/", &[]));
        let empty = by_headers.key_of(&view(Scheme::Http, "/", &[("x-a", "")]));
        assert_ne!(one, two);
        assert_ne!(none, empty);
    }

    #[test]
    fn a_full_memo_starts_over_and_asks_are_never_kept() {
        let memo = memo(
            Parts {
                path: true,
                ..Parts::default()
            },
            &[],
            2,
        );
        for path in ["/1", "/2", "/3"] {
            memo.put(memo.key_of(&view(Scheme::Http, path, &[])), &set(path));
        }
        assert_eq!(memo.len(), 1, "bounded: started over at the third key");
        assert_eq!(
            memo.get(&memo.key_of(&view(Scheme::Http, "/3", &[]))),
            Some(set("/3").checked())
        );
        assert_eq!(memo.hits(), 1);
        let ask = Decision {
            action: Action::Ask(crate::plugin::decision::Ask {
                backend: "auth".into(),
                method: "GET".into(),
                path: "/".into(),
                headers: Vec::new(),
                body: Vec::new(),
                timeout_ms: 0,
                context: String::new(),
            }),
            request_headers: EditList::new(),
            response_headers: EditList::new(),
        };
        memo.put(memo.key_of(&view(Scheme::Http, "/ask", &[])), &ask);
        assert_eq!(memo.get(&memo.key_of(&view(Scheme::Http, "/ask", &[]))), None);
        memo.clear();
        assert!(memo.is_empty());
    }

    #[test]
    fn decisions_are_kept_checked_and_invalid_parts_stay_raw() {
        let memo = memo(
            Parts {
                path: true,
                ..Parts::default()
            },
            &[],
            16,
        );
        let header = |name: &str, value: &[u8]| Header {
            name: name.into(),
            value: value.to_vec(),
        };
        let respond = |status: u16, name: &str| Decision {
            action: Action::Respond(DirectResponse {
                status,
                headers: vec![header("Location", b"https://a/"), header(name, b"text/plain")],
                body: b"moved".to_vec(),
            }),
            request_headers: vec![
                HeaderOp::Set(header("x-a", b"1")),
                HeaderOp::Append(header("x-b", b"a\0b")),
            ]
            .into(),
            response_headers: vec![HeaderOp::Remove("server".into()), HeaderOp::Remove("bad name".into())].into(),
        };
        let key = |path: &str| memo.key_of(&view(Scheme::Http, path, &[]));
        memo.put(key("/good"), &respond(302, "content-type"));
        let Some(good) = memo.get(&key("/good")) else {
            panic!("kept")
        };
        let Action::Ready(ready) = &good.action else {
            panic!("a valid response is kept ready: {:?}", good.action)
        };
        assert_eq!(ready.status, http::StatusCode::FOUND);
        let names: Vec<&str> = ready.headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["location", "content-type"]);
        assert_eq!(ready.headers["location"], "https://a/");
        assert_eq!(&ready.body[..], b"moved");
        assert!(
            ready.lines.is_some(),
            "without a hop-by-hop field its lines are written once"
        );
        let with_connection = DirectResponse {
            status: 302,
            headers: vec![header("Location", b"https://a/"), header("Connection", b"x-a")],
            body: Vec::new(),
        };
        let Some(ready) = with_connection.ready() else {
            panic!("valid")
        };
        assert!(
            ready.lines.is_none(),
            "a hop-by-hop field is stripped per response, from the map"
        );
        let again = memo.get(&key("/good")).map(|d| d.request_headers);
        assert_eq!(
            again.as_deref().map(<[HeaderOp]>::as_ptr),
            Some(good.request_headers.as_ptr()),
            "each hit shares the kept edits, not a copy"
        );
        assert!(matches!(good.request_headers[0], HeaderOp::Checked(CheckedOp::Set(..))));
        assert!(
            matches!(good.request_headers[1], HeaderOp::Append(_)),
            "an invalid value stays raw"
        );
        assert!(matches!(
            good.response_headers[0],
            HeaderOp::Checked(CheckedOp::Remove(_))
        ));
        assert!(
            matches!(good.response_headers[1], HeaderOp::Remove(_)),
            "an invalid name stays raw"
        );
        memo.put(key("/bad-status"), &respond(1000, "content-type"));
        memo.put(key("/bad-header"), &respond(302, "bad name"));
        for path in ["/bad-status", "/bad-header"] {
            let kept = memo.get(&key(path)).map(|d| d.action);
            assert!(matches!(kept, Some(Action::Respond(_))), "{path} stays raw: {kept:?}");
        }
    }
}
