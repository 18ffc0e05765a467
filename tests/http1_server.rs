//! Our own HTTP/1.1 server (src/listener/http1/) seen from a raw TCP
//! client: keep-alive and pipelining, HEAD, HTTP/1.0, framing of bodies of
//! unknown size, and the hand-over to hyper's server at the first request
//! with a body, on the same connection.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::Lab;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CONFIG: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[[listener]]
name = "chunky"
bind = "127.0.0.1:0"
default_backend = "chunked"

[[listener]]
name = "down"
bind = "127.0.0.1:0"
default_backend = "gone"

[backend.www]
servers = [{ name = "web1", address = "{web1}" }]

[backend.chunked]
servers = [{ name = "raw", address = "{raw}" }]

[backend.gone]
servers = [{ name = "nobody", address = "127.0.0.1:1" }]
"#;

const WAIT: Duration = Duration::from_secs(5);

/// One response as the client read it.
#[derive(Debug)]
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn status_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    fn field(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A connection to the proxy that reads responses one at a time.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn connect(address: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(address).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &str) {
        self.stream.write_all(bytes.as_bytes()).await.unwrap();
    }

    /// Reads more; false once the proxy closed.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 << 10];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the proxy answers or closes in time")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The next response; `head_request`: it answers a HEAD.
    async fn response(&mut self, head_request: bool) -> Answer {
        let end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            assert!(
                self.fill().await,
                "closed before a head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        self.buf.drain(..end + 4);
        let mut answer = Answer { head, body: Vec::new() };
        if head_request {
            return answer;
        }
        if let Some(length) = answer.field("content-length") {
            let length: usize = length.parse().unwrap();
            while self.buf.len() < length {
                assert!(self.fill().await, "body cut");
            }
            answer.body = self.buf.drain(..length).collect();
        } else if answer.field("transfer-encoding").as_deref() == Some("chunked") {
            loop {
                let line_end = loop {
                    if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    assert!(self.fill().await, "chunk cut");
                };
                let size = usize::from_str_radix(std::str::from_utf8(&self.buf[..line_end]).unwrap(), 16).unwrap();
                while self.buf.len() < line_end + 2 + size + 2 {
                    assert!(self.fill().await, "chunk cut");
                }
                answer
                    .body
                    .extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            while self.fill().await {}
            answer.body = std::mem::take(&mut self.buf);
        }
        answer
    }

    /// Whether the proxy closed the connection (with nothing more sent).
    async fn closed(&mut self) -> bool {
        !self.fill().await && self.buf.is_empty()
    }
}

/// A server that answers every request with a chunked body, as raw bytes:
/// a body whose size the proxy does not know.
async fn chunked_server() -> SocketAddr {
    let socket = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = socket.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        let answer = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    address
}

async fn lab() -> Lab {
    let raw = chunked_server().await;
    Lab::start(&CONFIG.replace("{raw}", &raw.to_string())).await
}

#[tokio::test]
async fn pipelined_plain_requests_are_answered_in_order_on_one_connection() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("web")).await;
    client
        .send(concat!(
            "GET /first HTTP/1.1\r\nHost: x\r\n\r\n",
            "HEAD /second HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /third HTTP/1.1\r\nHost: x\r\n\r\n",
        ))
        .await;
    let first = client.response(false).await;
    assert_eq!(first.status_line(), "HTTP/1.1 200 OK");
    assert!(first.text().contains("GET /first"), "{}", first.text());
    assert!(first.field("date").is_some(), "a Date: {}", first.head);
    let second = client.response(true).await;
    assert_eq!(second.status_line(), "HTTP/1.1 200 OK");
    let length: usize = second
        .field("content-length")
        .expect("HEAD keeps the length")
        .parse()
        .unwrap();
    assert!(length > 0);
    let third = client.response(false).await;
    assert!(
        third.text().contains("GET /third"),
        "HEAD sent no body, so this is the third: {}",
        third.text()
    );
    assert_eq!(lab.web1.as_ref().unwrap().hits(), 3);
    // Still open for a fourth, which closes it.
    client
        .send("GET /fourth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let fourth = client.response(false).await;
    assert!(fourth.text().contains("GET /fourth"));
    assert_eq!(fourth.field("connection").as_deref(), Some("close"));
    assert!(client.closed().await, "closed after Connection: close");
}

#[tokio::test]
async fn a_head_request_gets_no_body_even_when_the_response_has_one() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("down")).await;
    // The proxy's own error page has a body; HEAD must not get it, or the
    // client would read it as the next response.
    client
        .send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let head = client.response(true).await;
    let get = client.response(false).await;
    assert_eq!(head.status_line(), get.status_line(), "{} / {}", head.head, get.head);
    assert!(get.status_line().starts_with("HTTP/1.1 5"), "{}", get.head);
    assert!(!get.body.is_empty(), "the error page has a body");
    assert_eq!(head.field("content-length"), get.field("content-length"));
}

#[tokio::test]
async fn a_request_with_a_body_hands_the_connection_to_hyper_which_carries_on() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("web")).await;
    client.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(client.response(false).await.text().contains("GET /before"));
    // The POST and the GET after it in one write: the hand-over must keep
    // every byte read past the GET's head.
    client
        .send(concat!(
            "POST /posted HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
            "GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
        ))
        .await;
    let posted = client.response(false).await;
    assert_eq!(posted.status_line(), "HTTP/1.1 200 OK");
    assert!(posted.text().contains("POST /posted"), "{}", posted.text());
    assert!(
        posted.text().contains("body-bytes: 11"),
        "the body reached the server: {}",
        posted.text()
    );
    let after = client.response(false).await;
    assert!(after.text().contains("GET /after"), "{}", after.text());
    // A WebSocket-style upgrade or a chunked body would go the same way;
    // a malformed head too, and hyper's parser refuses it.
    client.send("GET /bad HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n").await;
    assert_eq!(client.response(false).await.status_line(), "HTTP/1.1 400 Bad Request");
}

#[tokio::test]
async fn a_malformed_first_head_gets_hyper_s_400() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("web")).await;
    client.send("GET /bad HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n").await;
    assert_eq!(client.response(false).await.status_line(), "HTTP/1.1 400 Bad Request");
    assert_eq!(lab.web1.as_ref().unwrap().hits(), 0);
}

#[tokio::test]
async fn http10_clients_get_http10_and_keep_the_connection_only_when_they_ask() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("web")).await;
    client.send("GET /once HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let once = client.response(false).await;
    assert_eq!(once.status_line(), "HTTP/1.0 200 OK");
    assert!(once.text().contains("GET /once"));
    assert!(client.closed().await, "no keep-alive asked: closed");

    let mut client = Client::connect(lab.addr("web")).await;
    for path in ["/kept", "/again"] {
        client
            .send(&format!(
                "GET {path} HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
            ))
            .await;
        let kept = client.response(false).await;
        assert_eq!(kept.status_line(), "HTTP/1.0 200 OK");
        assert_eq!(kept.field("connection").as_deref(), Some("keep-alive"));
        assert!(kept.text().contains(path));
    }
}

#[tokio::test]
async fn a_body_of_unknown_size_is_chunked_to_http11_and_runs_to_the_close_for_http10() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("chunky")).await;
    for _ in 0..2 {
        client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let chunked = client.response(false).await;
        assert_eq!(
            chunked.field("transfer-encoding").as_deref(),
            Some("chunked"),
            "{}",
            chunked.head
        );
        assert_eq!(chunked.text(), "hello world");
    }

    let mut client = Client::connect(lab.addr("chunky")).await;
    client
        .send("GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let until_close = client.response(false).await;
    assert_eq!(until_close.status_line(), "HTTP/1.0 200 OK");
    assert_eq!(until_close.field("transfer-encoding"), None);
    assert_eq!(until_close.field("connection").as_deref(), Some("close"));
    assert_eq!(until_close.text(), "hello world", "the body, then the close");
}

#[tokio::test]
async fn a_client_that_closes_while_waiting_cancels_its_request() {
    let lab = lab().await;
    let mut client = Client::connect(lab.addr("web")).await;
    // The origin counts a request only once it has answered it, after
    // the delay; a cancelled request closes the proxy's connection to it
    // before that, and is never counted.
    client.send("GET /delay/1500 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(client);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        lab.web1.as_ref().unwrap().hits(),
        0,
        "the request went on after its client left"
    );
    // Without the close it is answered and counted.
    let mut client = Client::connect(lab.addr("web")).await;
    client.send("GET /delay/100 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(client.response(false).await.text().contains("GET /delay/100"));
    assert_eq!(lab.web1.as_ref().unwrap().hits(), 1);
}
