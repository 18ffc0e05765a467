//! Servers failing under load: a real nginx process killed with SIGKILL,
//! and a server that accepts but never answers. The proxy must lose no
//! request to the first, and only bounded timeouts to the second, and mark
//! each down.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
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
    // Every answer, with when it came and who served it.
    let answers: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let load = tokio::spawn({
        let (client, url, answers) = (client.clone(), url.clone(), Arc::clone(&answers));
        async move {
            support::load(&client, &url, 2_000, 8, move |reply| {
                answers
                    .lock()
                    .unwrap()
                    .push((Instant::now(), reply.served_by().to_string()));
                Ok(())
            })
            .await
        }
    });
    // Kill once a fifth of the load is done, not after a guessed sleep.
    support::eventually(Duration::from_secs(20), "400 answers before the kill", async || {
        answers.lock().unwrap().len() >= 400
    })
    .await;
    let killed = Instant::now();
    web2.kill();
    let passive = until_down(&proxy, "web2", killed).await;
    let report = load.await.unwrap();
    eprintln!("web2 killed: marked down by passive health after {passive:?}");
    assert!(
        report.failures.is_empty(),
        "{} failed: {:?}",
        report.failures.len(),
        report.failures.first()
    );
    assert_eq!(report.ok, 2_000);
    // The kill overlapped the load: web2 served before it, requests were
    // still being answered after it, and those came from the survivor.
    let (before, after, web2_before, late_web2) = {
        let answers = answers.lock().unwrap();
        let before = answers.iter().filter(|(at, _)| *at < killed).count();
        let web2_before = answers.iter().filter(|(at, by)| *at < killed && by == "web2").count();
        let after: Vec<&String> = answers
            .iter()
            .filter(|(at, _)| *at > killed + passive)
            .map(|(_, by)| by)
            .collect();
        let late_web2 = after.iter().filter(|by| **by == "web2").count();
        (before, after.len(), web2_before, late_web2)
    };
    eprintln!("kill overlap: {before} answers before it ({web2_before} by web2), {after} after web2 was marked down");
    assert!(web2_before >= 100, "web2 took its share before the kill: {web2_before}");
    assert!(after >= 1_000, "the load went on after the kill: {after}");
    // Answers are stamped when a client task gets them: on a loaded
    // machine one sent by web2 before it died can be stamped after the
    // mark-down. At most one per client (8) was in flight at the kill.
    assert!(
        late_web2 <= 8,
        "the survivor served what came after: {late_web2} answers by web2 after it was marked down"
    );
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

/// Connections four closing servers got for 100 failing requests with
/// `retries = 3` and this retry budget.
async fn attempts_with(budget: &str) -> usize {
    let closers = [
        support::Closer::start().await,
        support::Closer::start().await,
        support::Closer::start().await,
        support::Closer::start().await,
    ];
    let servers: Vec<(&str, SocketAddr)> = ["c1", "c2", "c3", "c4"]
        .iter()
        .copied()
        .zip(closers.iter().map(|c| c.address))
        .collect();
    let extra = format!("retries = 3\npassive_health = {{ failures = 0 }}\nretry_budget = {budget}");
    let (proxy, _dir) = proxy(&servers, &extra).await;
    let client = Client::new("");
    let url = format!("http://{}/", proxy.local_addr("web").unwrap());
    for _ in 0..100 {
        let reply = client.get(&url).await;
        assert!(matches!(reply.status.as_u16(), 502 | 503), "{}", reply.body);
        assert!(reply.body.contains("request id "), "{}", reply.body);
    }
    closers.iter().map(|c| c.accepted.load(Ordering::SeqCst)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_keeps_retries_from_multiplying_an_outage() {
    let budgeted = attempts_with("{ ratio = 0.2, min_per_second = 0 }").await;
    // A floor far above the load: in effect no budget.
    let unbudgeted = attempts_with("{ ratio = 0.2, min_per_second = 100000 }").await;
    eprintln!(
        "retry budget: 100 failing requests made {budgeted} attempts with ratio 0.2, {unbudgeted} without a budget"
    );
    assert!((100..=100 + 20 + 2).contains(&budgeted), "attempts {budgeted}");
    assert_eq!(unbudgeted, 400, "without a budget each request tries all four servers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_server_down_the_fallback_answers() {
    let sorry = Nginx::start("sorry", support::ANY_PORT.parse().unwrap()).await;
    let dead: SocketAddr = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let extra = format!(
        r#"fallback_backend = "sorry"

[backend.sorry]
servers = [{{ name = "sorry", address = "{}" }}]

[backend.www2]
servers = [{{ name = "dead", address = "{dead}" }}]
fallback_plugin = "maintenance"

[[listener]]
name = "second"
bind = "127.0.0.1:0"
default_backend = "www2"

[plugin.maintenance]
source = "{}/echo.wasm"

[backend.www3]
servers = [{{ name = "dead", address = "{dead}" }}]
fallback_plugin = "moved"

[[listener]]
name = "third"
bind = "127.0.0.1:0"
default_backend = "www3"

[plugin.moved]
source = "builtin:https-redirect"
"#,
        sorry.address,
        switchyard::plugin::builtin::GUEST_WASM_DIR
    );
    let (proxy, _dir) = proxy(&[("dead", dead)], &extra).await;
    let client = Client::new("");
    let reply = client
        .get(&format!("http://{}/page", proxy.local_addr("web").unwrap()))
        .await;
    assert_eq!(
        (reply.status.as_u16(), reply.served_by()),
        (200, "sorry"),
        "fallback backend"
    );
    let reply = client
        .get(&format!("http://{}/page", proxy.local_addr("second").unwrap()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("path=/page"),
        "the fallback plugin answered: {}",
        reply.body
    );
    // A fallback plugin that memoises its answer gives it again from the
    // memo (the second request is a hit: a response kept checked).
    let third = proxy.local_addr("third").unwrap();
    for round in ["called", "memoised"] {
        let reply = client.get(&format!("http://{third}/moved?x=1")).await;
        assert_eq!(reply.status, 302, "{round}: {}", reply.body);
        assert_eq!(reply.header("location"), Some("https://127.0.0.1/moved?x=1"), "{round}");
    }
}
