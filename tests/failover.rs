//! A server killed while requests flow costs no failed request; health
//! checks take it out, and it rejoins when it comes back.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{Lab, LAB};
use switchyard::demo::Origin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_under_load_costs_no_request_and_rejoins_after_restart() {
    let mut lab = Lab::start(LAB).await;
    let client = lab.client();
    let url = lab.url("www-https", "/");
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let after_kill_on_web2 = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // 10 clients × 20 requests = 200, paced so the kill lands mid-run.
    let mut clients = Vec::new();
    for _ in 0..10 {
        let (client, url) = (client.clone(), url.clone());
        let (done, failures, after, killed) = (
            done.clone(),
            failures.clone(),
            after_kill_on_web2.clone(),
            killed.clone(),
        );
        clients.push(tokio::spawn(async move {
            for _ in 0..20 {
                let was_killed = killed.load(Ordering::SeqCst);
                match client
                    .send(http::Request::get(&url).body(Default::default()).unwrap())
                    .await
                {
                    Ok(reply) if reply.status == 200 => {
                        if was_killed && reply.served_by() == "web2" {
                            after.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(reply) => {
                        eprintln!("failed: {} {}", reply.status, reply.body);
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => {
                        eprintln!("failed: {e}");
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    while done.load(Ordering::SeqCst) < 60 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    lab.web2.take().expect("web2 runs").kill().await;
    killed.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 200);
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "requests failed while a server died"
    );
    assert_eq!(after_kill_on_web2.load(Ordering::SeqCst), 0, "a dead server answered");

    // Health checks (every 100 ms, fall 2) take it out...
    lab.wait_for_health("www-backend", "web2", false, Duration::from_secs(5))
        .await;
    for _ in 0..10 {
        assert_eq!(client.get(&url).await.served_by(), "web1");
    }
    // ...and bring it back (rise 2) once it listens again on its address.
    let web2 = Origin::start("web2", lab.web_addresses[1])
        .await
        .expect("web2 restarts on its address");
    lab.wait_for_health("www-backend", "web2", true, Duration::from_secs(5))
        .await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        let reply = client.get(&url).await;
        assert_eq!(reply.status, 200);
        seen.insert(reply.served_by().to_string());
    }
    assert!(
        seen.contains("web2") && seen.contains("web1"),
        "both serve again: {seen:?}"
    );
    assert!(web2.hits() > 0);
}

#[tokio::test]
async fn with_every_server_down_the_client_gets_a_prompt_503() {
    let mut lab = Lab::start(LAB).await;
    lab.web1.take().unwrap().kill().await;
    lab.web2.take().unwrap().kill().await;
    let client = lab.client();
    let reply = client.get(&lab.url("www-https", "/")).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    lab.wait_for_health("www-backend", "web1", false, Duration::from_secs(5))
        .await;
    lab.wait_for_health("www-backend", "web2", false, Duration::from_secs(5))
        .await;
    let reply = tokio::time::timeout(Duration::from_secs(5), client.get(&lab.url("www-https", "/")))
        .await
        .expect("no hang when every server is down");
    assert_eq!(reply.status, 503);
    assert!(
        reply.body.contains("no server of backend \"www-backend\" is available"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn pooled_connections_are_reused() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    for _ in 0..50 {
        assert_eq!(client.get(&lab.url("www-https", "/")).await.status, 200);
    }
    let generation = lab.proxy.proxy().generation();
    let backend = &generation.backends["www-backend"].backend;
    let connects: u64 = backend.servers.iter().map(|s| s.pool.connects()).sum();
    assert!(
        connects <= 4,
        "50 sequential requests opened {connects} upstream connections"
    );
}
