//! Servers failing under load: a real nginx process killed with SIGKILL,
//! and a server that accepts but never answers. The proxy must lose no
//! request to the first, and only bounded timeouts to the second, and mark
//! each down.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{BlackHole, Client, Nginx};
use switchyard::config::Config;
use switchyard::running::RunningProxy;

async fn proxy(servers: &[(&str, SocketAddr)], backend_extra: &str) -> (RunningProxy, tempfile::TempDir) {
    support::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<String> = servers
        .iter()
        .map(|(name, address)| format!(r#"{{ name = "{name}", address = "{address}" }}"#))
        .collect();
    let text = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{}]
{backend_extra}
"#,
        list.join(", ")
    );
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, text).unwrap();
    let proxy = RunningProxy::start(Config::load(&path).unwrap(), support::engine())
        .await
        .unwrap();
    (proxy, dir)
}

fn healthy(proxy: &RunningProxy, server: &str) -> bool {
    let generation = proxy.proxy().generation();
    generation.backends["www"].backend.server(server).unwrap().is_healthy()
}

/// Polls until the server is marked down; returns how long that took.
async fn until_down(proxy: &RunningProxy, server: &str, since: Instant) -> Duration {
    while healthy(proxy, server) {
        assert!(since.elapsed() < Duration::from_secs(30), "{server} never marked down");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    since.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_process_killed_during_2000_requests_costs_none_of_them() {
    let web1 = Nginx::start("web1", support::ANY_PORT.parse().unwrap()).await;
    let mut web2 = Nginx::start("web2", support::ANY_PORT.parse().unwrap()).await;
    let checks = r#"health_check = { path = "/health", expect_status = 200, interval = "500ms", timeout = "500ms", rise = 2, fall = 2 }"#;
    let (proxy, _dir) = proxy(&[("web1", web1.address), ("web2", web2.address)], checks).await;
    let client = Client::new("");
    let url = format!("http://{}/", proxy.local_addr("web").unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { support::load(&client, &url, 2_000, 8, |_| Ok(())).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Instant::now();
    web2.kill();
    let passive = until_down(&proxy, "web2", killed).await;
    done.store(true, Ordering::SeqCst);
    let report = load.await.unwrap();
    eprintln!("web2 killed: marked down by passive health after {passive:?}");
    assert!(
        report.failures.is_empty(),
        "{} failed: {:?}",
        report.failures.len(),
        report.failures.first()
    );
    assert_eq!(report.ok, 2_000);
    for _ in 0..10 {
        assert_eq!(client.get(&url).await.served_by(), "web1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_traffic_active_checks_alone_mark_a_killed_server_down() {
    let web1 = Nginx::start("web1", support::ANY_PORT.parse().unwrap()).await;
    let mut web2 = Nginx::start("web2", support::ANY_PORT.parse().unwrap()).await;
    let checks = r#"health_check = { path = "/health", expect_status = 200, interval = "500ms", timeout = "500ms", rise = 2, fall = 2 }"#;
    let (proxy, _dir) = proxy(&[("web1", web1.address), ("web2", web2.address)], checks).await;
    let killed = Instant::now();
    web2.kill();
    let active = until_down(&proxy, "web2", killed).await;
    eprintln!("web2 killed: marked down by active checks (interval 500ms, fall 2) after {active:?}");
    assert!(active <= Duration::from_millis(2 * 500 + 500 + 300), "took {active:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_only_bounded_timeouts_and_is_marked_down() {
    let web1 = Nginx::start("web1", support::ANY_PORT.parse().unwrap()).await;
    let hole = BlackHole::start().await;
    let extra = r#"response_timeout = "300ms"
passive_health = { failures = 2 }"#;
    let (proxy, _dir) = proxy(&[("web1", web1.address), ("hole", hole.address)], extra).await;
    let client = Client::new("");
    let url = format!("http://{}/", proxy.local_addr("web").unwrap());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..250 {
                let sent = Instant::now();
                let reply = client.get(&url).await;
                results.push((reply.status.as_u16(), sent.elapsed()));
            }
            results
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    let failed: Vec<&(u16, Duration)> = results.iter().filter(|(status, _)| *status != 200).collect();
    eprintln!(
        "black hole: {} of {} requests failed, all 504 = {}, slowest {:?}, total {:?}",
        failed.len(),
        results.len(),
        failed.iter().all(|(s, _)| *s == 504),
        failed.iter().map(|(_, t)| *t).max(),
        started.elapsed()
    );
    assert_eq!(results.len(), 2_000);
    assert!(
        failed.iter().all(|(status, _)| *status == 504),
        "only timeouts: {failed:?}"
    );
    assert!(
        failed.len() <= 2 + 8,
        "timeouts stop once the server is marked down: {}",
        failed.len()
    );
    assert!(
        failed.iter().all(|(_, took)| *took < Duration::from_millis(300 + 700)),
        "each timeout is bounded by response_timeout: {failed:?}"
    );
    assert!(!healthy(&proxy, "hole"), "the silent server is marked down");
}
