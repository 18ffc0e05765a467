//! Hostile HTTP: request-smuggling and ambiguity attempts sent raw to the
//! proxy. Each case says what must happen; in every case no request hidden
//! in another reaches the server, and anything forwarded reaches it in one
//! unambiguous form (the origin's page shows what it received).

mod support;

use std::time::Duration;

use support::{raw_exchange, Lab};

const PLAIN: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{ name = "web1", address = "{web1}" }]
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Refused with this status; nothing reaches the server.
    Refused(u16),
    /// Refused with this status or the connection closed; no smuggled
    /// request reaches the server.
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
];

#[tokio::test]
async fn the_smuggling_corpus() {
    let lab = Lab::start(PLAIN).await;
    let address = lab.addr("web");
    let mut wrong = Vec::new();
    for case in CORPUS {
        let before = lab.web1.as_ref().unwrap().hits();
        let (status, text) = raw_exchange(address, case.request.as_bytes(), Duration::from_millis(700)).await;
        let forwarded = lab.web1.as_ref().unwrap().hits() - before;
        let smuggled = text.contains("/smuggled");
        let ok = match case.expect {
            Expect::Refused(code) => status == Some(code) && forwarded == 0,
            Expect::RefusedOrClosed(code) => {
                (status == Some(code) || status.is_none() || status == Some(502)) && !smuggled
            }
            Expect::Forwarded => status == Some(200) && forwarded == 1 && received_normally(&text),
            Expect::ChunkedThenClosed => {
                status == Some(200)
                    && forwarded == 1
                    && !smuggled
                    && text.contains("\r\nconnection: close\r\n")
                    && text.contains("transfer-encoding: chunked\n")
                    && !text.contains("content-length: 6")
                    && text.contains("body-bytes: 0")
            }
        };
        eprintln!(
            "{:<75} -> {:?} (forwarded {forwarded}) {}",
            case.name,
            status,
            if ok { "ok" } else { "WRONG" }
        );
        if !ok {
            wrong.push(format!(
                "{}: expected {:?}, got {:?}, forwarded {forwarded}:\n{text}",
                case.name, case.expect, status
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
    let lab = Lab::start(PLAIN).await;
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
