//! The proxy as a process under attack and under restart: a slowloris of
//! 500 connections while other clients are served, and a restart under load
//! (a second process binds the same port, the first drains on SIGTERM)
//! that loses no request.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Client, ProxyProcess};
use switchyard::demo::Origin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn write_config(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_of_500_connections_does_not_stop_other_clients() {
    let origin = Origin::start("web1", support::ANY_PORT.parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "switchyard.toml",
        &format!(
            r#"[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"
header_read_timeout = "3s"

[backend.www]
servers = [{{ name = "web1", address = "{}" }}]
"#,
            origin.address()
        ),
    );
    let proxy = ProxyProcess::start(&config);
    let address = proxy.address_logged("listening listener=web");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss = proxy.rss_kib();

    // 500 clients that never finish their request head: a header line
    // every 250 ms.
    let closed_by_proxy = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for _ in 0..500 {
        let closed = Arc::clone(&closed_by_proxy);
        attackers.push(tokio::spawn(async move {
            let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
                return;
            };
            if stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.is_err() {
                return;
            }
            let mut buf = [0u8; 256];
            for _ in 0..40 {
                tokio::select! {
                    read = stream.read(&mut buf) => {
                        if matches!(read, Ok(0) | Err(_)) {
                            closed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {
                        if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                            closed.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let attack_rss = proxy.rss_kib();

    // Meanwhile, ordinary clients are served.
    let client = Client::new("");
    let url = format!("http://{address}/");
    let started = Instant::now();
    let report = support::load(&client, &url, 200, 4, |_| Ok(())).await;
    let served_in = started.elapsed();
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    assert_eq!(report.ok, 200);

    for attacker in attackers {
        attacker.await.unwrap();
    }
    let closed = closed_by_proxy.load(Ordering::SeqCst);
    eprintln!(
        "slowloris: 200 requests served in {served_in:?} during the attack; proxy RSS idle {} KiB, with 500 slow connections {} KiB; {closed} of 500 closed by header_read_timeout",
        idle_rss, attack_rss
    );
    assert_eq!(closed, 500, "every slow connection is closed by the header timeout");
    assert!(
        attack_rss < idle_rss + 64 * 1024,
        "memory under the attack stays bounded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_under_load_loses_no_request() {
    // Queued connections of a closing SO_REUSEPORT socket move to the other
    // socket instead of being reset (Linux 5.14+); needs root, which CI has.
    let migrate = std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "1").is_ok();
    let origin = Origin::start("web1", support::ANY_PORT.parse().unwrap()).await.unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fixtures = switchyard::plugin::builtin::GUEST_WASM_DIR;
    let config = |tag: &str| {
        format!(
            r#"[global]
shutdown_grace = "5s"

[[listener]]
name = "web"
bind = "{address}"
plugins = ["tag"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{}" }}]

[plugin.tag]
source = "{fixtures}/tag_{tag}.wasm"
"#,
            origin.address()
        )
    };
    let old = ProxyProcess::start(&write_config(dir.path(), "old.toml", &config("a")));
    old.address_logged("listening listener=web");

    let stop = Arc::new(AtomicBool::new(false));
    let client = Client::new("");
    let url = format!("http://{address}/");
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (client, url, stop) = (client.clone(), url.clone(), Arc::clone(&stop));
        clients.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut tags) = (0usize, Vec::new(), std::collections::HashSet::new());
            while !stop.load(Ordering::SeqCst) {
                match client
                    .send(http::Request::get(&url).body(Default::default()).unwrap())
                    .await
                {
                    Ok(reply) if reply.status == 200 => {
                        ok += 1;
                        tags.insert(reply.header("x-tag").unwrap_or("").to_string());
                    }
                    Ok(reply) => failed.push(format!("{}", reply.status)),
                    Err(e) => failed.push(e),
                }
            }
            (ok, failed, tags)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let new = ProxyProcess::start(&write_config(dir.path(), "new.toml", &config("b")));
    new.address_logged("listening listener=web");
    tokio::time::sleep(Duration::from_millis(500)).await;
    old.signal("-TERM");
    let old_exit = tokio::task::spawn_blocking(move || old.wait()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed, mut tags) = (0, Vec::new(), std::collections::HashSet::new());
    for c in clients {
        let (o, f, t) = c.await.unwrap();
        ok += o;
        failed.extend(f);
        tags.extend(t);
    }
    eprintln!(
        "restart: {ok} requests served, {} failed, tcp_migrate_req set: {migrate}, versions seen {tags:?}",
        failed.len()
    );
    assert_eq!(old_exit, Some(0), "the old process drains and exits cleanly");
    assert!(failed.is_empty(), "{} failed: {:?}", failed.len(), failed.first());
    assert!(
        tags.contains("a") && tags.contains("b"),
        "both processes served: {tags:?}"
    );
    assert!(ok > 100);
    drop(new);
}
