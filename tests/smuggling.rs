//! Hostile HTTP: request-smuggling and ambiguity attempts sent raw to the
//! proxy. Each case says what must happen. A relay in front of the origin
//! records the raw bytes the proxy sent it, and they are parsed as the
//! server would: a refused case delivered nothing, a forwarded one exactly
//! one complete, unambiguous request (one framing header, no `/smuggled`
//! anywhere), and no case more than one.

mod support;

use std::time::Duration;

use support::h2raw::{self, RawH2};
use support::{raw_exchange, Fault, Lab, Relay};
use switchyard::demo::Origin;

/// The proxy in front of `web1` through a recording relay.
async fn lab() -> (Lab, Relay, Origin) {
    let origin = Origin::start("web1", support::ANY_PORT.parse().unwrap()).await.unwrap();
    let relay = Relay::start(origin.address(), Fault::Pass).await;
    let lab = Lab::start(&format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{}" }}]
"#,
        relay.address
    ))
    .await;
    (lab, relay, origin)
}

/// What reached the server, read as a sequence of HTTP/1.1 requests.
#[derive(Debug, Default)]
struct Delivered {
    /// Complete requests: head and body.
    requests: Vec<(String, Vec<u8>)>,
    /// Bytes that do not finish a request (a head or body cut short).
    incomplete: usize,
}

fn parse_requests(mut bytes: &[u8]) -> Result<Delivered, String> {
    let mut delivered = Delivered::default();
    while !bytes.is_empty() {
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            delivered.incomplete = bytes.len();
            break;
        };
        let head = String::from_utf8(bytes[..end].to_vec()).map_err(|_| "a head that is not UTF-8".to_string())?;
        let rest = &bytes[end + 4..];
        let lines: Vec<&str> = head.split("\r\n").collect();
        let field = |name: &str| -> Vec<String> {
            lines[1..]
                .iter()
                .filter_map(|l| l.split_once(':'))
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
                .collect()
        };
        let (lengths, codings) = (field("content-length"), field("transfer-encoding"));
        if lengths.len() + codings.len() > 1 {
            return Err(format!("more than one framing header: {head:?}"));
        }
        if lines.iter().any(|l| l.contains(['\n', '\r', '\0'])) {
            return Err(format!("a bare CR, LF or NUL inside a forwarded head: {head:?}"));
        }
        let (body, used) = if let Some(coding) = codings.first() {
            if coding != "chunked" {
                return Err(format!("forwarded transfer-coding {coding:?}"));
            }
            match dechunk(rest) {
                Some(found) => found,
                None => {
                    delivered.incomplete = bytes.len();
                    break;
                }
            }
        } else {
            let length: usize = match lengths.first() {
                Some(value) => value
                    .parse()
                    .map_err(|_| format!("forwarded Content-Length {value:?}"))?,
                None => 0,
            };
            if rest.len() < length {
                delivered.incomplete = bytes.len();
                break;
            }
            (rest[..length].to_vec(), length)
        };
        delivered.requests.push((head, body));
        bytes = &rest[used..];
    }
    Ok(delivered)
}

/// A complete chunked body and the bytes it took, or None if cut short.
fn dechunk(mut bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let start = bytes.len();
    let mut body = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            // Trailers, then the empty line.
            let end = bytes.windows(2).position(|w| w == b"\r\n")?;
            bytes = &bytes[end + 2..];
            return Some((body, start - bytes.len()));
        }
        if bytes.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = &bytes[size + 2..];
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Refused with this status; nothing reaches the server.
    Refused(u16),
    /// Refused with this status or the connection closed; no complete
    /// request reaches the server (a streamed head may have, its body cut).
    RefusedOrClosed(u16),
    /// Forwarded, and the server's view of it is normal.
    Forwarded,
    /// RFC 9112 6.3 for Content-Length with Transfer-Encoding: read as
    /// chunked, Content-Length dropped, the connection closed after the
    /// response, so the bytes after the chunked body never become a request.
    ChunkedThenClosed,
}

struct Case {
    name: &'static str,
    request: &'static str,
    expect: Expect,
}

const CORPUS: &[Case] = &[
    Case {
        name: "Content-Length and Transfer-Encoding together (CL.TE / TE.CL)",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::ChunkedThenClosed,
    },
    Case {
        name: "two Content-Length values that differ",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "Content-Length as a list of differing values",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 40\r\n\r\nabc",
        expect: Expect::Refused(400),
    },
    Case {
        name: "Content-Length with a sign",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
        expect: Expect::Refused(400),
    },
    Case {
        name: "Transfer-Encoding whose last coding is not chunked",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "an unknown Transfer-Encoding",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "Transfer-Encoding folded over two lines (obs-fold)",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "whitespace between a header name and the colon",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "an invalid chunk size",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::RefusedOrClosed(400),
    },
    Case {
        name: "a chunk size overflowing 64 bits",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000001\r\nhello\r\n0\r\n\r\n",
        expect: Expect::RefusedOrClosed(400),
    },
    Case {
        name: "bare LF line endings (accepted, forwarded with CRLF)",
        request: "GET /bare-lf HTTP/1.1\nHost: x\nConnection: close\n\n",
        expect: Expect::Forwarded,
    },
    Case {
        name: "a bare CR inside the head",
        request: "GET / HTTP/1.1\rHost: x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "a NUL byte in a header value",
        request: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "an invalid byte in a header name",
        request: "GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "absolute-form target naming another host than Host",
        request: "GET http://evil.example/admin HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "absolute-form target agreeing with Host (forwarded in origin-form)",
        request: "GET http://x/abs?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        expect: Expect::Forwarded,
    },
    Case {
        name: "HTTP/1.1 without Host",
        request: "GET / HTTP/1.1\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "two Host headers",
        request: "GET / HTTP/1.1\r\nHost: x\r\nHost: evil.example\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "user info in Host",
        request: "GET / HTTP/1.1\r\nHost: user@x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "a CONNECT tunnel",
        request: "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
        expect: Expect::Refused(405),
    },
    Case {
        name: "Connection naming Host and Content-Length as hop-by-hop",
        request: "POST /nominate HTTP/1.1\r\nHost: x\r\nConnection: close, host, content-length\r\nContent-Length: 5\r\n\r\nhello",
        expect: Expect::Forwarded,
    },
    Case {
        name: "a request line with two spaces",
        request: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "an HTTP/0.9 request",
        request: "GET /\r\n\r\n",
        expect: Expect::RefusedOrClosed(400),
    },
    Case {
        name: "an unknown HTTP version",
        request: "GET / HTTP/1.7\r\nHost: x\r\n\r\n",
        expect: Expect::RefusedOrClosed(400),
    },
    Case {
        name: "two identical Content-Length values (forwarded with one)",
        request: "POST /twin HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        expect: Expect::Forwarded,
    },
    Case {
        name: "Transfer-Encoding value in another case (Chunked) beside Content-Length",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::ChunkedThenClosed,
    },
    Case {
        name: "transfer-encoding name in lower case beside Content-Length",
        request: "POST / HTTP/1.1\r\nHost: x\r\ncontent-length: 6\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::ChunkedThenClosed,
    },
    Case {
        name: "Transfer-Encoding with a tab and trailing spaces (valid whitespace)",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding:\tchunked  \r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::ChunkedThenClosed,
    },
    Case {
        name: "Transfer-Encoding with a vertical tab before chunked",
        request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "Transfer-Encoding chunked twice",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "Transfer-Encoding on HTTP/1.0",
        request: "POST / HTTP/1.0\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::Refused(400),
    },
    Case {
        name: "a chunk extension (forwarded without it)",
        request: "POST /ext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n",
        expect: Expect::Forwarded,
    },
    Case {
        name: "a chunk extension ending in a bare LF",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::RefusedOrClosed(400),
    },
    Case {
        name: "a chunk size line with a bare LF",
        request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        expect: Expect::RefusedOrClosed(400),
    },
];

#[tokio::test]
async fn the_smuggling_corpus() {
    let (lab, relay, origin) = lab().await;
    let address = lab.addr("web");
    let mut wrong = Vec::new();
    for case in CORPUS {
        let (hits, recorded) = (origin.hits(), relay.requests.lock().unwrap().len());
        let (status, text) = raw_exchange(address, case.request.as_bytes(), Duration::from_millis(700)).await;
        let bytes = relay.requests.lock().unwrap()[recorded..].to_vec();
        let answered = origin.hits() - hits;
        let delivered = parse_requests(&bytes);
        let smuggled = text.contains("/smuggled") || String::from_utf8_lossy(&bytes).contains("/smuggled");
        let complete = delivered.as_ref().map_or(usize::MAX, |d| d.requests.len());
        let ok = !smuggled
            && delivered.is_ok()
            && match case.expect {
                Expect::Refused(code) => status == Some(code) && bytes.is_empty() && answered == 0,
                Expect::RefusedOrClosed(code) => (status == Some(code) || status.is_none()) && complete == 0,
                Expect::Forwarded => {
                    status == Some(200)
                        && complete == 1
                        && delivered.as_ref().is_ok_and(|d| d.incomplete == 0)
                        && received_normally(&text)
                }
                Expect::ChunkedThenClosed => {
                    status == Some(200)
                        && complete == 1
                        && delivered
                            .as_ref()
                            .is_ok_and(|d| d.incomplete == 0 && d.requests[0].1.is_empty())
                        && text.contains("\r\nconnection: close\r\n")
                        && text.contains("transfer-encoding: chunked\n")
                        && !text.contains("content-length: 6")
                        && text.contains("body-bytes: 0")
                }
            };
        eprintln!(
            "{:<75} -> {:?} (delivered {complete}, {} bytes) {}",
            case.name,
            status,
            bytes.len(),
            if ok { "ok" } else { "WRONG" }
        );
        if !ok {
            wrong.push(format!(
                "{}: expected {:?}, got {:?}; the server received {:?}:\n{}\n-- answer:\n{text}",
                case.name,
                case.expect,
                status,
                delivered,
                String::from_utf8_lossy(&bytes)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The origin's page: one Host, origin-form target, nothing that names
/// another host or a hop-by-hop header.
fn received_normally(response: &str) -> bool {
    let page = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let hosts = page.lines().filter(|l| l.starts_with("host: ")).count();
    let target_ok = page.lines().any(|l| l.starts_with("GET /") || l.starts_with("POST /"));
    hosts == 1 && target_ok && !page.contains("connection: ") && !page.contains("evil.example")
}

#[tokio::test]
async fn http2_authority_and_host_disagreeing_is_refused() {
    let (lab, _relay, _origin) = lab().await;
    // HTTP/2 with prior knowledge, through hyper's own client.
    let stream = tokio::net::TcpStream::connect(lab.addr("web")).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let request = |host: &str| {
        http::Request::get(format!("http://{}/h2", lab.addr("web")))
            .header("host", host)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap()
    };
    let refused = sender.send_request(request("evil.example")).await.unwrap();
    assert_eq!(refused.status(), 400);
    let agreed = sender
        .send_request(request(&lab.addr("web").to_string()))
        .await
        .unwrap();
    assert_eq!(agreed.status(), 200);
}

/// Header fields as raw bytes.
type Headers<'a> = &'a [(&'a [u8], &'a [u8])];

/// HTTP/2 carries header values as length-prefixed bytes, so CR, LF and
/// NUL can arrive in them (and in the path); bound for an HTTP/1.1 server
/// they would split the request. Each such stream is refused and nothing
/// reaches the server; a clean request on the same connection still goes.
#[tokio::test]
async fn http2_headers_with_cr_lf_or_nul_never_reach_an_http1_server() {
    let (lab, relay, _origin) = lab().await;
    let attempts: &[(&str, Headers<'_>, &str)] = &[
        ("CRLF in a value", &[(b"x-a", b"a\r\nGET /smuggled HTTP/1.1")], "/"),
        ("LF in a value", &[(b"x-a", b"a\nx-injected: 1")], "/"),
        ("CR in a value", &[(b"x-a", b"a\rx-injected: 1")], "/"),
        ("NUL in a value", &[(b"x-a", b"a\0b")], "/"),
        ("CRLF in a name", &[(b"x-a\r\nx-b", b"1")], "/"),
        ("an upper-case name", &[(b"X-Upper", b"1")], "/"),
        ("CRLF in the path", &[], "/a\r\nGET /smuggled HTTP/1.1"),
        ("a space in the path", &[], "/a HTTP/1.1\r\nx: y"),
    ];
    let mut h2 = RawH2::connect(lab.addr("web")).await;
    let mut stream = 1;
    for (what, headers, path) in attempts {
        h2.send(&h2raw::request(stream, "GET", path, headers, true)).await;
        let answer = loop {
            let frame = h2.read(Duration::from_secs(3)).await;
            match frame {
                Some(f) if f.stream == stream && matches!(f.kind, h2raw::HEADERS | h2raw::RST_STREAM) => break Some(f),
                Some(f) if f.kind == h2raw::GOAWAY => break Some(f),
                Some(_) => continue,
                None => break None,
            }
        };
        let refused = match &answer {
            Some(f) if f.kind == h2raw::RST_STREAM || f.kind == h2raw::GOAWAY => true,
            // A response head: 400 is a refusal (":status" 400 as an HPACK
            // static index 0x8d... or a literal); anything else is not.
            Some(f) => f.payload.first() == Some(&0x8c) || f.payload.windows(3).any(|w| w == b"400"),
            None => false,
        };
        assert!(refused, "{what}: refused, got {answer:?}");
        if matches!(&answer, Some(f) if f.kind == h2raw::GOAWAY) {
            h2 = RawH2::connect(lab.addr("web")).await;
            stream = 1;
        } else {
            stream += 2;
        }
    }
    let bytes = relay.requests.lock().unwrap().clone();
    assert!(
        bytes.is_empty(),
        "nothing reached the server: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    // The same connection (or a new one) still serves a clean request.
    h2.send(&h2raw::request(stream, "GET", "/clean", &[], true)).await;
    let answer = loop {
        match h2.read(Duration::from_secs(3)).await {
            Some(f) if f.stream == stream && f.kind == h2raw::HEADERS => break Some(f),
            Some(_) => continue,
            None => break None,
        }
    };
    assert!(answer.is_some(), "a clean request is answered");
    let delivered = parse_requests(&relay.requests.lock().unwrap()).unwrap();
    assert_eq!(delivered.requests.len(), 1);
    assert!(
        delivered.requests[0].0.starts_with("GET /clean HTTP/1.1\r\n"),
        "{delivered:?}"
    );
}
