//! Every client-side limit tried from a raw TCP client: the status or the
//! close it promises.

mod support;

use std::time::{Duration, Instant};

use support::{raw_exchange, Lab};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITED: &str = r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"
header_read_timeout = "300ms"
max_header_bytes = "8KiB"
max_headers = 20
max_body = "1KiB"
h2_max_streams = 7

[[listener]]
name = "small"
bind = "127.0.0.1:0"
default_backend = "www"
max_connections = 3

[backend.www]
servers = [{ name = "web1", address = "{web1}" }]
"#;

fn hits(lab: &Lab) -> u64 {
    lab.web1.as_ref().unwrap().hits()
}

#[tokio::test]
async fn a_slow_request_head_is_closed_after_header_read_timeout() {
    let lab = Lab::start(LIMITED).await;
    let mut stream = TcpStream::connect(lab.addr("web")).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("closed within 3 s")
        .unwrap_or(0);
    let took = started.elapsed();
    assert_eq!(
        n,
        0,
        "closed without a response: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(took >= Duration::from_millis(250), "not before the timeout: {took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_same_timeout() {
    let lab = Lab::start(LIMITED).await;
    let mut stream = TcpStream::connect(lab.addr("web")).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if stream.read(&mut buf).await.unwrap_or(0) == 0 {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "idle connection closed");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn the_head_timeout_counts_from_each_request_not_from_the_first() {
    // Requests 200 ms apart on one connection: together they outlast the
    // 300 ms timeout many times over, each wait stays within it.
    let lab = Lab::start(LIMITED).await;
    let mut stream = TcpStream::connect(lab.addr("web")).await.unwrap();
    let mut buf = vec![0u8; 64 << 10];
    let started = Instant::now();
    for i in 0..6 {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf))
            .await
            .expect("answered")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "request {i} answered: {text:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "the waits outlasted the timeout"
    );
}

#[tokio::test]
async fn oversized_heads_get_431() {
    let lab = Lab::start(LIMITED).await;
    let big = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(16 << 10));
    let (status, _) = raw_exchange(lab.addr("web"), big.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(status, Some(431), "header bytes");
    let many: String = (0..30).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let (status, _) = raw_exchange(lab.addr("web"), many.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(status, Some(431), "header count");
    assert_eq!(hits(&lab), 0);
}

#[tokio::test]
async fn bodies_over_max_body_get_413_declared_or_chunked() {
    let lab = Lab::start(LIMITED).await;
    let declared = format!(
        "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n{}",
        "b".repeat(2048)
    );
    let (status, text) = raw_exchange(lab.addr("web"), declared.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(status, Some(413), "{text}");
    assert!(text.contains("request id "), "{text}");
    assert_eq!(hits(&lab), 0, "refused before forwarding");

    let chunk = "c".repeat(600);
    let chunked = format!("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n");
    let (status, text) = raw_exchange(lab.addr("web"), chunked.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(status, Some(413), "{text}");

    let small = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    let (status, text) = raw_exchange(lab.addr("web"), small.as_bytes(), Duration::from_secs(2)).await;
    assert_eq!(status, Some(200), "{text}");
    assert!(text.contains("body-bytes: 5"));
}

#[tokio::test]
async fn http2_advertises_the_stream_limit() {
    let lab = Lab::start(LIMITED).await;
    let mut stream = TcpStream::connect(lab.addr("web")).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut head = [0u8; 9];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(head[3], 0x4, "a SETTINGS frame");
    let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.unwrap();
    let settings: Vec<(u16, u32)> = payload
        .chunks(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect();
    assert!(
        settings.contains(&(0x3, 7)),
        "SETTINGS_MAX_CONCURRENT_STREAMS = 7 in {settings:?}"
    );
    assert!(
        settings.contains(&(0x6, 8 << 10)),
        "SETTINGS_MAX_HEADER_LIST_SIZE = 8 KiB in {settings:?}"
    );
}

#[tokio::test]
async fn at_max_connections_new_clients_wait_until_one_leaves() {
    let lab = Lab::start(LIMITED).await;
    let address = lab.addr("small");
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let (status, _) = raw_exchange(
            address,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        (status, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "the fourth connection is not served while three are open"
    );
    drop(held.pop());
    let (status, took) = waiting.await.unwrap();
    assert_eq!(status, Some(200), "served once a connection left");
    assert!(took >= Duration::from_millis(450));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_in_flight_requests_get_503_at_once() {
    let template = format!("[global]\nmax_in_flight = 2\n{LIMITED}");
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let (client, url) = (client.clone(), lab.url("small", "/delay/1500"));
            tokio::spawn(async move { client.get(&url).await.status })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let reply = client.get(&lab.url("small", "/")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains("too many requests in flight"));
    assert!(reply.header("x-request-id").is_some());
    assert!(started.elapsed() < Duration::from_millis(500), "refused at once");
    for s in slow {
        assert_eq!(s.await.unwrap(), 200);
    }
    assert_eq!(client.get(&lab.url("small", "/")).await.status, 200, "room again");
}
