//! HTTP/2 to the servers: Debian's nginx over TLS (ALPN `h2`), in cleartext
//! with prior knowledge (`h2c`), and chosen by ALPN (`auto`); thousands of
//! requests multiplexed on few connections, through nginx's GOAWAY every
//! 1,000 requests with none failed; the stream limit opening new
//! connections (a hyper HTTP/2 server in the test, which delays answers);
//! mixed hops both ways.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::config::{Backend, Listener, ProxyConfig};
use support::{load, Lab, Nginx, NginxSite, Reply, TestCa};

/// nginx speaking HTTP/2 (over TLS with `tls`, else h2c; over TLS also
/// HTTP/1.1 by ALPN), naming the protocol it was spoken to in `x-protocol`;
/// `extra` adds directives (`keepalive_requests 1000;` makes it send GOAWAY
/// after 1,000 requests on a connection).
async fn h2_origin(name: &str, tls: Option<&support::Issued>, extra: &str) -> Nginx {
    let (listen, directives) = match tls {
        Some(certificate) => (
            "ssl http2".to_string(),
            format!(
                "ssl_certificate {};\nssl_certificate_key {};\n{extra}",
                certificate.cert.display(),
                certificate.key.display()
            ),
        ),
        None => ("http2".to_string(), extra.to_string()),
    };
    let site = NginxSite {
        listen,
        directives,
        location: "add_header x-protocol $server_protocol always;".into(),
    };
    Nginx::start_site(name, support::ANY_PORT.parse().unwrap(), &site).await
}

fn config(server: SocketAddr, protocol: &str, tls: Option<toml::Table>) -> ProxyConfig {
    let mut backend = Backend::of(&[("h2", server)]);
    backend.protocol = Some(protocol.into());
    backend.tls = tls;
    let mut config = ProxyConfig {
        listeners: vec![Listener::plain("web").default_backend("h2")],
        ..ProxyConfig::default()
    };
    config.backends.insert("h2".into(), backend);
    config
}

fn spoken(reply: &Reply, expected: &str) -> Result<(), String> {
    match reply.header("x-protocol") {
        Some(protocol) if protocol == expected => Ok(()),
        other => Err(format!("spoken to in {other:?}")),
    }
}

fn connects(lab: &Lab) -> u64 {
    let generation = lab.proxy.proxy().generation();
    generation.backends["h2"].backend.server("h2").unwrap().pool.connects()
}

fn verified(ca: &TestCa) -> toml::Table {
    support::config::table([
        ("ca", ca.path.display().to_string().into()),
        ("server_name", "h2.test".into()),
    ])
}

/// Over TLS with ALPN `h2`, nginx closing each connection with GOAWAY
/// after 1,000 requests: 10,000 requests from 50 clients, none failed, on
/// about one connection per thousand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_requests_over_h2_and_tls_survive_goaway_every_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let certificate = ca.issue(dir.path(), "h2", &["h2.test"]);
    let origin = h2_origin("h2", Some(&certificate), "keepalive_requests 1000;").await;
    let lab = Lab::start_with(|_| config(origin.address, "h2", Some(verified(&ca)))).await;
    let report = load(&lab.client(), &lab.url("web", "/"), 10_000, 50, |r: &Reply| {
        spoken(r, "HTTP/2.0")
    })
    .await;
    assert!(
        report.failures.is_empty(),
        "{} failed: {:?}",
        report.failures.len(),
        report.failures.first()
    );
    assert!(report.inconsistent.is_empty(), "{:?}", report.inconsistent.first());
    assert_eq!(report.ok, 10_000);
    let used = connects(&lab);
    println!("10,000 requests over HTTP/2 + TLS, GOAWAY every 1,000: {used} upstream connections");
    assert!((10..=30).contains(&used), "a new connection after each GOAWAY: {used}");
}

/// Cleartext HTTP/2 with prior knowledge: 10,000 requests on one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_multiplexes_ten_thousand_requests_on_one_connection() {
    let origin = h2_origin("h2", None, "").await;
    let lab = Lab::start_with(|_| config(origin.address, "h2c", None)).await;
    let report = load(&lab.client(), &lab.url("web", "/"), 10_000, 50, |r: &Reply| {
        spoken(r, "HTTP/2.0")
    })
    .await;
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    assert_eq!(report.ok, 10_000);
    let used = connects(&lab);
    println!("10,000 requests over h2c from 50 clients: {used} upstream connection(s)");
    assert_eq!(used, 1, "one multiplexed connection");
}

/// `auto`: ALPN settles it. nginx offering h2 gets HTTP/2; without http2
/// on its listener, HTTP/1.1. An HTTP/2 client reaches an HTTP/1.1 server
/// and the reverse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_follows_alpn_and_mixed_hops_work_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let certificate = ca.issue(dir.path(), "h2", &["h2.test"]);
    let h2 = h2_origin("h2", Some(&certificate), "").await;
    let lab = Lab::start_with(|_| config(h2.address, "auto", Some(verified(&ca)))).await;
    let reply = lab.client().get(&lab.url("web", "/x")).await;
    assert_eq!(reply.version, http::Version::HTTP_11, "client to proxy");
    assert_eq!(spoken(&reply, "HTTP/2.0"), Ok(()), "proxy to server");
    drop(lab);

    let site = NginxSite {
        listen: "ssl".into(),
        directives: format!(
            "ssl_certificate {};\nssl_certificate_key {};",
            certificate.cert.display(),
            certificate.key.display()
        ),
        location: "add_header x-protocol $server_protocol always;".into(),
    };
    let h1 = Nginx::start_site("h2", support::ANY_PORT.parse().unwrap(), &site).await;
    // An HTTP/2 client (TLS listener, ALPN h2) to an HTTP/1.1-only server.
    let lab = Lab::start_with(|parts| {
        let mut config = config(h1.address, "auto", Some(verified(&ca)));
        config
            .listeners
            .push(Listener::tls("secure", &parts.combined).default_backend("h2"));
        config
    })
    .await;
    let reply = lab.client().get(&lab.url("secure", "/y")).await;
    assert_eq!(reply.version, http::Version::HTTP_2, "client to proxy");
    assert_eq!(spoken(&reply, "HTTP/1.1"), Ok(()), "proxy to server");
}

/// A hyper HTTP/2 server that answers after 300 ms, counting connections.
async fn slow_h2_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(support::ANY_PORT).await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let service = hyper::service::service_fn(|_request| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, Infallible>(http::Response::new(http_body_util::Full::new(bytes::Bytes::from(
                    "slow",
                ))))
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (address, accepted)
}

/// 40 requests at once with h2_max_streams = 10: four connections carry
/// them, none more than ten at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_stream_limit_a_new_connection_is_opened() {
    let (server, accepted) = slow_h2_server().await;
    let lab = Lab::start_with(|_| {
        let mut config = config(server, "h2c", None);
        config.backend_mut("h2").h2_max_streams = Some(10);
        config
    })
    .await;
    let report = load(&lab.client(), &lab.url("web", "/"), 40, 40, |_: &Reply| Ok(())).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    assert_eq!(report.ok, 40);
    let opened = accepted.load(Ordering::SeqCst);
    assert_eq!(opened, 4, "40 concurrent requests, 10 streams per connection");
}
