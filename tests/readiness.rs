//! What keepalived and outer load balancers ask of a node: `GET /health`
//! (ready only with a healthy server in each listener's default backend,
//! and not while stopping), `switchyard status --ready` (exit 0 or 1), and
//! the planned stop's handover: still accepting, `/health` not ready,
//! every connection closed after its response, the connections open when
//! it began drained, then no more accepting.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::Lab;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEMPLATE: &str = r#"
[global]
handover_delay = "2s"

[admin]
bind = "127.0.0.1:0"
token = "0123456789abcdef0123"

[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "app"

[backend.app]
servers = [{ name = "web1", address = "{web1}" }, { name = "web2", address = "{web2}" }]
health_check = { path = "/health", interval = "100ms", timeout = "100ms", rise = 1, fall = 1 }
"#;

fn ready_exit(admin: std::net::SocketAddr) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["status", "--ready", "--admin", &admin.to_string()])
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// A raw HTTP/1.1 exchange on `stream`: the response head, lower-cased.
async fn exchange(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: example\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = vec![0u8; 64 << 10];
    let mut read = 0;
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer[read..]))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before answering");
        read += n;
        let text = String::from_utf8_lossy(&buffer[..read]).to_lowercase();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if read >= head_end + 4 + length {
                return text[..head_end].to_string();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_default_backend_and_status_ready_exits_accordingly() {
    let mut lab = Lab::start(TEMPLATE).await;
    let admin = lab.proxy.admin_addr().unwrap();
    let client = lab.client();
    // No token needed: probes carry none.
    let healthy = client.get(&format!("http://{admin}/health")).await;
    assert_eq!(healthy.status, 200, "{}", healthy.body);
    let answer: serde_json::Value = serde_json::from_str(&healthy.body).unwrap();
    assert_eq!(answer["ready"], true, "{}", healthy.body);
    let (code, out) = tokio::task::spawn_blocking(move || ready_exit(admin)).await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ready"), "{out}");

    // One server down: still ready. Both down: not, naming the backend.
    lab.web1.take().unwrap().kill().await;
    lab.wait_for_health("app", "web1", false, Duration::from_secs(5)).await;
    assert_eq!(client.get(&format!("http://{admin}/health")).await.status, 200);
    lab.web2.take().unwrap().kill().await;
    lab.wait_for_health("app", "web2", false, Duration::from_secs(5)).await;
    let down = client.get(&format!("http://{admin}/health")).await;
    assert_eq!(down.status, 503, "{}", down.body);
    let answer: serde_json::Value = serde_json::from_str(&down.body).unwrap();
    assert_eq!(answer["ready"], false);
    assert!(
        answer["reasons"][0].as_str().unwrap().contains("backend \"app\""),
        "{}",
        down.body
    );
    let (code, out) = tokio::task::spawn_blocking(move || ready_exit(admin)).await.unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("none of its 2 servers is up"), "{out}");

    // Nothing listening: not ready either, at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    let (code, out) = tokio::task::spawn_blocking(move || ready_exit(closed)).await.unwrap();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("cannot reach"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_stop_hands_over_before_it_stops_accepting() {
    let lab = Lab::start(TEMPLATE).await;
    let admin = lab.proxy.admin_addr().unwrap();
    let web = lab.addr("web");
    let client = lab.client();
    // Two keep-alive connections open before the stop: one idle, one busy.
    let mut idle = TcpStream::connect(web).await.unwrap();
    let head = exchange(&mut idle).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    let mut busy = TcpStream::connect(web).await.unwrap();
    exchange(&mut busy).await;

    let Lab { proxy, .. } = lab;
    let stopped_at = Instant::now();
    let stop = tokio::spawn(proxy.stop());

    // The busy client's next request is answered, and told to close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let head = exchange(&mut busy).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    // Not ready at once (keepalived moves the address on this).
    let health = client.get(&format!("http://{admin}/health")).await;
    assert_eq!(health.status, 503, "{}", health.body);
    let answer: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(answer["handing_over"], true, "{}", health.body);
    // The idle connection is closed by the proxy soon, not left to the
    // client to reuse after the address has moved.
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(1), idle.read(&mut byte))
        .await
        .expect("the idle connection is closed within a second");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    // New connections are still accepted and served, one request each.
    let mut late = TcpStream::connect(web).await.unwrap();
    let head = exchange(&mut late).await;
    assert!(
        head.starts_with("http/1.1 200") && head.contains("connection: close"),
        "{head}"
    );
    assert!(
        stopped_at.elapsed() < Duration::from_millis(1500),
        "checked within the handover"
    );

    // After handover_delay, it stops accepting.
    stop.await.unwrap();
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_secs(2),
        "stopped after {took:?}, before handover_delay"
    );
    assert!(TcpStream::connect(web).await.is_err(), "still accepting after the stop");
}
