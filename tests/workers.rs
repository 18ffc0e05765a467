//! Thread per core (`workers = 2`): the kernel spreads connections over
//! both workers' sockets, and what is shared stays right across them:
//! a rate limit's count, the request metrics, a graceful stop that lets
//! every worker's requests finish.
//!
//! One test: the worker metrics are process-wide, so nothing else in this
//! binary may open connections meanwhile.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::{raw_exchange, Lab};

/// The value of `series` in the proxy's metrics now.
fn sample(series: &str) -> f64 {
    switchyard::metrics::metrics()
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn accepted_by(worker: usize) -> f64 {
    sample(&format!("switchyard_worker_connections_total{{worker=\"{worker}\"}}"))
}

/// One request on a new connection; its status.
async fn get(address: SocketAddr, path: &'static str, key: String) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: shop\r\nx-api-key: {key}\r\nConnection: close\r\n\r\n");
    raw_exchange(address, request.as_bytes(), Duration::from_secs(10))
        .await
        .0
}

/// A new connection that worker `worker` accepted (tried until the
/// kernel hands one to it).
async fn connection_of_worker(address: SocketAddr, worker: usize) -> tokio::net::TcpStream {
    for _ in 0..100 {
        let total = accepted_by(0) + accepted_by(1);
        let theirs = accepted_by(worker);
        let stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let waited = Instant::now();
        while accepted_by(0) + accepted_by(1) == total && waited.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if accepted_by(worker) > theirs {
            return stream;
        }
    }
    panic!("worker {worker} accepted none of 100 connections");
}

/// Sends `request` on `stream` and reads until the server closes.
async fn exchange_on(mut stream: tokio::net::TcpStream, request: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await;
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn two_workers_share_connections_counts_and_a_graceful_stop() {
    let template = format!(
        r#"
[global]
workers = 2
shutdown_grace = "5s"

[[listener]]
name = "workers-http"
bind = "127.0.0.1:0"
plugins = ["rate-limit"]
default_backend = "app"

[backend.app]
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}]

[plugin.rate-limit]
source = "{}"
config = {{ limit = 30, window_ms = 600000, header = "x-api-key" }}
"#,
        support::rust_example("rate_limit")
    );
    let lab = Lab::start(&template).await;
    assert_eq!(lab.proxy.workers(), 2);
    let address = lab.addr("workers-http");
    let before = [accepted_by(0), accepted_by(1)];
    let ok_before = sample(r#"switchyard_requests_total{listener="workers-http",class="2xx"}"#);

    // 60 requests with one key, each on a new connection, 6 at a time:
    // exactly 30 admitted, whichever worker took each.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let round: Vec<_> = (0..6).map(|_| tokio::spawn(get(address, "/", "k1".into()))).collect();
        for request in round {
            statuses.push(request.await.unwrap());
        }
    }
    let admitted = statuses.iter().filter(|s| **s == Some(200)).count();
    let limited = statuses.iter().filter(|s| **s == Some(429)).count();
    assert_eq!((admitted, limited), (30, 30), "{statuses:?}");
    let accepted = [accepted_by(0) - before[0], accepted_by(1) - before[1]];
    assert_eq!(accepted[0] + accepted[1], 60.0, "{accepted:?}");
    assert!(
        accepted[0] > 0.0 && accepted[1] > 0.0,
        "both workers take connections: {accepted:?}"
    );
    let ok = sample(r#"switchyard_requests_total{listener="workers-http",class="2xx"}"#) - ok_before;
    assert_eq!(ok, 30.0, "every worker's requests counted once");

    // A graceful stop while 20 slow requests are in flight on both workers:
    // every one is answered before the stop returns.
    let before = [accepted_by(0), accepted_by(1)];
    let slow: Vec<_> = (0..20)
        .map(|i| tokio::spawn(get(address, "/delay/800", format!("slow{i}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = [accepted_by(0) - before[0], accepted_by(1) - before[1]];
    assert!(
        in_flight[0] > 0.0 && in_flight[1] > 0.0,
        "the stop overlaps requests on both workers: {in_flight:?}"
    );
    // And the slowest on a connection known to be worker 1's.
    let pinned = connection_of_worker(address, 1).await;
    let slowest = tokio::spawn(exchange_on(
        pinned,
        "GET /delay/1500 HTTP/1.1\r\nHost: shop\r\nx-api-key: slowest\r\nConnection: close\r\n\r\n",
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Lab { proxy, .. } = lab;
    let started = Instant::now();
    proxy.shutdown().await;
    let stopped_after = started.elapsed();
    // The stop returns once every worker's connections are done (a process
    // exits right after: a request still open on a worker would be cut).
    assert_eq!(
        sample(r#"switchyard_open_connections{listener="workers-http"}"#),
        0.0,
        "connections still open when the stop returned"
    );
    let mut answered = Vec::new();
    for request in slow {
        answered.push(request.await.unwrap());
    }
    assert!(
        answered.iter().all(|s| *s == Some(200)),
        "requests in flight at the stop: {answered:?}"
    );
    let last = slowest.await.unwrap();
    assert!(last.starts_with("HTTP/1.1 200"), "worker 1's slowest request: {last:?}");
    assert!(stopped_after < Duration::from_secs(5), "{stopped_after:?}");
    // Every worker's socket is closed: nothing accepts any more.
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}
