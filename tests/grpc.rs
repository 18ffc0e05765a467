//! gRPC end to end with a real gRPC stack on both ends (Debian's
//! python3-grpcio, `tests/grpc/*.py`): the four call kinds with 10,000
//! streamed messages each way, every status code's trailers intact
//! (details and binary metadata), a deadline that expires; through a plain
//! listener (HTTP/2 with prior knowledge) and a TLS one (ALPN h2), to a
//! cleartext HTTP/2 backend. And the proxy's own part of a deadline: a
//! server that ignores `grpc-timeout` still gets the call ended by the proxy
//! with `DEADLINE_EXCEEDED`.

mod support;

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::config::{Backend, Listener, ProxyConfig};
use support::Lab;

/// Debian's interpreter, which has python3-grpcio (the first `python3` on
/// PATH may be another).
const PYTHON: &str = "/usr/bin/python3";

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn script(name: &str) -> String {
    format!("{}/tests/grpc/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The gRPC server, and its address.
fn grpc_server() -> (Daemon, SocketAddr) {
    let mut child = Command::new(PYTHON)
        .arg(script("server.py"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with grpcio (apt-get install python3-grpcio)");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the server says where it listens");
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (Daemon(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Runs the gRPC client against `target`; what it saw.
async fn grpc_client(args: Vec<String>) -> serde_json::Value {
    let output = tokio::task::spawn_blocking(move || Command::new(PYTHON).arg(script("client.py")).args(args).output())
        .await
        .unwrap()
        .expect("the client runs");
    assert!(
        output.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn config(server: SocketAddr, combined: &std::path::Path) -> ProxyConfig {
    let mut backend = Backend::of(&[("grpc1", server)]);
    backend.protocol = Some("h2c".into());
    let mut config = ProxyConfig {
        listeners: vec![
            Listener::plain("plain").default_backend("grpc"),
            Listener::tls("secure", combined).default_backend("grpc"),
        ],
        ..ProxyConfig::default()
    };
    config.backends.insert("grpc".into(), backend);
    config
}

fn assert_every_call_kind(seen: &serde_json::Value, through: &str) {
    assert_eq!(seen["unary"], "hello", "{through}: {seen}");
    assert_eq!(
        seen["server_stream"],
        serde_json::json!([10_000, "message 9999"]),
        "{through}"
    );
    assert_eq!(seen["client_stream"], "10000 1000000", "{through}");
    assert_eq!(seen["bidi"], serde_json::json!([10_000, "ping 9999"]), "{through}");
    for code in 1..=16 {
        let status = &seen["statuses"][code.to_string()];
        assert_eq!(
            status,
            &serde_json::json!([code, format!("detail {code}"), "000162696e617279"]),
            "{through}: status {code} with its details and binary trailer"
        );
    }
    assert_eq!(seen["deadline"], "DEADLINE_EXCEEDED", "{through}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_kind_status_and_deadline_passes_through() {
    let (_server, address) = grpc_server();
    let lab = Lab::start_with(|parts| config(address, &parts.combined)).await;
    let direct = grpc_client(vec![address.to_string()]).await;
    assert_every_call_kind(&direct, "direct");
    let plain = grpc_client(vec![lab.addr("plain").to_string()]).await;
    assert_every_call_kind(&plain, "the plain listener");
    let ca = lab.dir.path().join("ca.pem");
    std::fs::write(&ca, &lab.certificate.cert_pem).unwrap();
    let secure = grpc_client(vec![
        lab.addr("secure").to_string(),
        "--tls".into(),
        ca.display().to_string(),
        "localhost".into(),
    ])
    .await;
    assert_every_call_kind(&secure, "the TLS listener");
}

/// A server that never answers `grpc-timeout` itself (a bare HTTP/2 server
/// that waits 3 s): the proxy ends the call at the deadline with a
/// trailers-only `grpc-status: 4`, and does not count it against the
/// server's health.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_ends_a_call_at_its_deadline() {
    let listener = tokio::net::TcpListener::bind(support::ANY_PORT).await.unwrap();
    let server = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(|_request| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    let lab = Lab::start_with(|parts| config(server, &parts.combined)).await;
    let client = lab.client();
    for _ in 0..4 {
        let request = http::Request::post(lab.url("plain", "/test.Echo/Unary"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("grpc-timeout", "300m")
            .body(bytes::Bytes::from_static(b"\x00\x00\x00\x00\x05hello").into())
            .unwrap();
        let started = Instant::now();
        let reply = client.send(request).await.expect("an answer");
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.header("grpc-status"), Some("4"), "{:?}", reply.headers);
        assert!(reply.header("grpc-message").is_some_and(|m| m.contains("deadline")));
        assert!(
            took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
            "ended at the deadline: {took:?}"
        );
    }
    assert!(
        lab.server_healthy("grpc", "grpc1"),
        "the client's deadline is not the server's fault"
    );
}
