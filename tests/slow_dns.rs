//! A server name that resolves slowly during a reload does not stall the
//! proxy, even on one worker: the configuration is read (and its names
//! resolved) on a blocking thread, and a name that never resolves rejects
//! the reload while the running generation keeps serving.
//!
//! The proxy runs as a real process in a mount namespace of its own, whose
//! `/etc/resolv.conf` names two nameservers: the first never answers (a
//! UDP socket that drops every query), the second is Debian's
//! pebble-challtestsrv, a mock DNS server that knows `slow-origin.test`.
//! glibc asks the first, waits its 2 s timeout, then asks the second, so
//! the name takes two seconds to resolve; a name the second does not know
//! fails after the same wait. Needs root (unshare, port 53 on loopback).

mod support;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::ProxyProcess;
use switchyard::demo::Origin;

/// glibc's per-nameserver timeout, as written into resolv.conf.
const RESOLVER_TIMEOUT: Duration = Duration::from_secs(2);

struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(origin: &str) -> String {
    format!(
        r#"[global]
watch = false
workers = 1

[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{origin}" }}]
"#
    )
}

/// What the steady client saw while a reload ran.
#[derive(Default, Debug)]
struct Seen {
    ok: usize,
    failed: usize,
    slowest: Duration,
}

/// Requests one after another until `stop`: when each ended, how long it
/// took, its status (0: no response).
async fn steady_load(url: String, stop: tokio::sync::watch::Receiver<bool>) -> Vec<(Instant, Duration, u16)> {
    let client = support::Client::new("");
    let mut done = Vec::new();
    while !*stop.borrow() {
        let started = Instant::now();
        let status = match client
            .send(http::Request::get(&url).body(Default::default()).unwrap())
            .await
        {
            Ok(reply) => reply.status.as_u16(),
            Err(_) => 0,
        };
        done.push((Instant::now(), started.elapsed(), status));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done
}

fn seen_between(done: &[(Instant, Duration, u16)], from: Instant, to: Instant) -> Seen {
    let mut seen = Seen::default();
    for (_, took, status) in done.iter().filter(|(at, _, _)| *at >= from && *at <= to) {
        if *status == 200 {
            seen.ok += 1;
        } else {
            seen.failed += 1;
        }
        seen.slowest = seen.slowest.max(*took);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_name_during_a_reload_does_not_stall_requests() {
    let origin = Origin::start("web1", support::ANY_PORT.parse().unwrap()).await.unwrap();
    let port = origin.address().port();
    let dir = tempfile::tempdir().unwrap();

    // Two nameservers on loopback addresses of their own (port 53).
    let net = 1 + std::process::id() % 250;
    let silent: SocketAddr = format!("127.53.{net}.1:53").parse().unwrap();
    let mock: SocketAddr = format!("127.53.{net}.2:53").parse().unwrap();
    let management: SocketAddr = format!("127.53.{net}.2:8055").parse().unwrap();
    let black_hole = std::net::UdpSocket::bind(silent).expect("bind port 53 (the test needs root)");
    let _mock_dns = Daemon(
        Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "", "-defaultIPv6", ""])
            .args(["-dns01", &mock.to_string(), "-management", &management.to_string()])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv runs (apt-get install pebble)"),
    );
    let manager = support::Client::new("");
    support::eventually(Duration::from_secs(10), "the mock DNS takes names", async || {
        let request = http::Request::post(format!("http://{management}/add-a"))
            .body(r#"{"host":"slow-origin.test.","addresses":["127.0.0.1"]}"#.into())
            .unwrap();
        manager.send(request).await.is_ok_and(|r| r.status == 200)
    })
    .await;
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        format!(
            "nameserver {}\nnameserver {}\noptions timeout:{} attempts:1\n",
            silent.ip(),
            mock.ip(),
            RESOLVER_TIMEOUT.as_secs()
        ),
    )
    .unwrap();

    let conf = dir.path().join("switchyard.toml");
    std::fs::write(&conf, config(&format!("127.0.0.1:{port}"))).unwrap();
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/resolv.conf && exec "$2" run -c "$3""#)
        .arg("sh")
        .arg(&resolv)
        .arg(env!("CARGO_BIN_EXE_switchyard"))
        .arg(&conf);
    let proxy = ProxyProcess::spawn(command);
    let web = proxy.address_logged("listening listener=web");
    let url = format!("http://{web}/");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let load = tokio::spawn(steady_load(url.clone(), stopped));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A name that resolves after the first nameserver's timeout.
    std::fs::write(&conf, config(&format!("slow-origin.test:{port}"))).unwrap();
    let asked = Instant::now();
    proxy.signal("-HUP");
    let published = tokio::task::block_in_place(|| {
        proxy.line_containing("new generation serving", Duration::from_secs(20));
        Instant::now()
    });
    let took = published - asked;

    // A name no nameserver knows: rejected after the same wait.
    std::fs::write(&conf, config(&format!("unknown-origin.test:{port}"))).unwrap();
    let asked_again = Instant::now();
    proxy.signal("-HUP");
    let rejected = tokio::task::block_in_place(|| {
        proxy.line_containing("configuration rejected", Duration::from_secs(20));
        Instant::now()
    });
    let took_again = rejected - asked_again;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(true).unwrap();
    let done = load.await.unwrap();
    drop(black_hole);

    // The overlap: each reload really waited on DNS, and requests ran then.
    assert!(
        took >= RESOLVER_TIMEOUT - Duration::from_millis(200),
        "the slow name resolved in {took:?}: the reload did not wait on DNS"
    );
    assert!(
        took_again >= RESOLVER_TIMEOUT - Duration::from_millis(200),
        "{took_again:?}"
    );
    for (what, from, to) in [("resolving", asked, published), ("failing", asked_again, rejected)] {
        let seen = seen_between(&done, from, to);
        println!("while the name was {what} ({:?}): {seen:?}", to - from);
        assert_eq!(seen.failed, 0, "while {what}: {seen:?}");
        assert!(
            seen.ok >= 20,
            "requests kept flowing while the name was {what}: {seen:?}"
        );
        assert!(
            seen.slowest < Duration::from_millis(500),
            "no request waited on DNS while the name was {what}: {seen:?}"
        );
    }
    // The rejected reload kept the generation that resolved the slow name.
    let after = done.last().expect("requests were made");
    assert_eq!(after.2, 200, "still served after the rejected reload");
}
