//! The request-head rewriting of the proxy path (hop-by-hop removal,
//! plugin header edits, X-Forwarded-For) on arbitrary headers and edits:
//! no panic, no hop-by-hop header left, the client's address last in
//! X-Forwarded-For.
#![no_main]

use arbitrary::Arbitrary;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use switchyard::plugin::{Header, HeaderOp};
use switchyard::proxy::{append_forwarded_for, apply_edits, strip_hop_by_hop};

#[derive(Debug, Arbitrary)]
enum Edit {
    Set(String, Vec<u8>),
    Append(String, Vec<u8>),
    Remove(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    headers: Vec<(String, Vec<u8>)>,
    edits: Vec<Edit>,
    client: [u8; 4],
}

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fuzz_target!(|input: Input| {
    let mut headers = HeaderMap::new();
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    let edits: Vec<HeaderOp> = input
        .edits
        .into_iter()
        .map(|edit| match edit {
            Edit::Set(name, value) => HeaderOp::Set(Header { name, value }),
            Edit::Append(name, value) => HeaderOp::Append(Header { name, value }),
            Edit::Remove(name) => HeaderOp::Remove(name),
        })
        .collect();
    strip_hop_by_hop(&mut headers);
    let _ = apply_edits(&mut headers, &edits);
    strip_hop_by_hop(&mut headers);
    for name in HOP_BY_HOP {
        assert!(!headers.contains_key(name), "{name} survived");
    }
    let client = std::net::IpAddr::from(input.client);
    let client_value = http::HeaderValue::from_str(&client.to_string()).unwrap();
    append_forwarded_for(&mut headers, &client_value);
    let forwarded = headers.get("x-forwarded-for").map(|v| v.to_str().unwrap_or("").to_string());
    if let Some(forwarded) = forwarded {
        assert!(forwarded.ends_with(&client.to_string()), "{forwarded}");
    }
});
