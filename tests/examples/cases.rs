//! The example plugins' tests, run on the components the including test
//! file's `component` names: fresh builds (`tests/examples.rs`) or the ones
//! built against contract 0.1.0 (`tests/examples_0_1_0.rs`).

use std::collections::HashMap;
use std::time::Duration;

use super::component;
use super::support::{self, Client, Lab};
use switchyard::demo::Origin;

#[tokio::test]
async fn path_router_routes_by_host_and_longest_prefix() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["router"]
default_backend = "everything"

[backend.everything]
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}]

[backend.api]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[backend.static]
servers = [{{ name = "web2", address = "{{web2}}" }}]

[plugin.router]
source = "{}"
config = {{ hosts = {{ "api.example.com" = "api" }}, routes = {{ "/api/" = "api", "/api/v2/" = "static", "/static/" = "static" }} }}
"#,
        component("path_router")
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    for _ in 0..3 {
        let api = client.get(&lab.url("web", "/api/users")).await;
        assert_eq!((api.status.as_u16(), api.served_by()), (200, "web1"));
        assert_eq!(api.header("x-routed-by"), Some("path-router"));
        assert_eq!(
            client.get(&lab.url("web", "/api/v2/users")).await.served_by(),
            "web2",
            "longest prefix"
        );
        assert_eq!(client.get(&lab.url("web", "/static/app.css")).await.served_by(), "web2");
        let by_host = client
            .get_with(&lab.url("web", "/static/x"), &[("host", "API.example.com:8080")])
            .await;
        assert_eq!(by_host.served_by(), "web1", "a host route wins over a path");
    }
    let a = client.get(&lab.url("web", "/home")).await;
    let b = client.get(&lab.url("web", "/home")).await;
    assert_eq!(a.header("x-routed-by"), None);
    assert_ne!(
        a.served_by(),
        b.served_by(),
        "misses fall through to the default backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_takes_its_percentage_and_obeys_the_header_and_cookie() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["canary"]
default_backend = "stable"

[backend.stable]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[backend.canary]
servers = [{{ name = "web2", address = "{{web2}}" }}]

[plugin.canary]
source = "{}"
config = {{ backend = "canary", percent = 10 }}
"#,
        component("canary")
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let report = support::load(&client, &url, 10_000, 8, |r| {
        let canary = r.served_by() == "web2";
        (canary == (r.header("x-canary") == Some("1")))
            .then_some(())
            .ok_or("x-canary header".to_string())
    })
    .await;
    assert!(
        report.failures.is_empty() && report.inconsistent.is_empty(),
        "{:?}",
        report.inconsistent.first()
    );
    let canary = lab.web2.as_ref().unwrap().hits() as f64 / 10_000.0;
    eprintln!("canary share over 10,000 requests: {:.2} %", canary * 100.0);
    assert!((0.07..=0.13).contains(&canary), "10 % +- 3 %: {canary}");
    for _ in 0..20 {
        assert_eq!(
            client.get_with(&url, &[("x-canary", "always")]).await.served_by(),
            "web2"
        );
        assert_eq!(
            client
                .get_with(&url, &[("cookie", "a=b; canary=never")])
                .await
                .served_by(),
            "web1"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_sessions_keep_a_client_and_move_it_when_its_server_dies() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "app"

[backend.app]
balancer = "sticky"
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}]

[plugin.sticky]
source = "{}"
"#,
        component("sticky_sessions")
    );
    let mut lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let first = client.get(&url).await;
    let cookie = first
        .header("set-cookie")
        .expect("a sticky cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = first.served_by().to_string();
    for _ in 0..1_000 {
        let reply = client.get_with(&url, &[("cookie", &cookie)]).await;
        assert_eq!(reply.served_by(), home, "stuck to its server");
        assert_eq!(reply.header("set-cookie"), None);
    }
    // Its server dies: the client moves, gets a new cookie, and sticks again.
    if home == "web1" {
        lab.web1.take().unwrap().kill().await;
    } else {
        lab.web2.take().unwrap().kill().await;
    }
    let moved = client.get_with(&url, &[("cookie", &cookie)]).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_ne!(moved.served_by(), home);
    let new_cookie = moved
        .header("set-cookie")
        .expect("a new cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(new_cookie, cookie);
    for _ in 0..50 {
        assert_eq!(
            client.get_with(&url, &[("cookie", &new_cookie)]).await.served_by(),
            moved.served_by()
        );
    }
}

/// An origin that answers every request after `delay`.
async fn slow_origin(name: &'static str, delay: Duration) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::TcpListener::bind(support::ANY_PORT).await.unwrap();
    let address = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = socket.accept().await else { return };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| async move {
                    tokio::time::sleep(delay).await;
                    let mut response =
                        http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(b"slow\n")));
                    response
                        .headers_mut()
                        .insert("x-served-by", http::HeaderValue::from_static(name));
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_in_flight_sends_most_requests_to_the_faster_server() {
    let (slow, _slow_task) = slow_origin("slow", Duration::from_millis(200)).await;
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "app"

[backend.app]
balancer = "least"
servers = [{{ name = "slow", address = "{slow}" }}, {{ name = "web1", address = "{{web1}}" }}]

[plugin.least]
source = "{}"
"#,
        component("least_in_flight")
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let counts = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<String, usize>::new()));
    let report = support::load(&client, &url, 400, 8, {
        let counts = std::sync::Arc::clone(&counts);
        move |r| {
            *counts.lock().unwrap().entry(r.served_by().to_string()).or_default() += 1;
            Ok(())
        }
    })
    .await;
    assert!(report.failures.is_empty());
    let counts = counts.lock().unwrap().clone();
    eprintln!("least-in-flight with a 200 ms server and a fast one: {counts:?}");
    let (fast, slow) = (
        counts.get("web1").copied().unwrap_or(0),
        counts.get("slow").copied().unwrap_or(0),
    );
    assert!(fast > slow * 10, "the fast server takes most: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistent_hashing_moves_only_the_keys_of_a_server_that_goes_down() {
    let web3 = Origin::start("web3", support::ANY_PORT.parse().unwrap()).await.unwrap();
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "app"

[backend.app]
balancer = "hash"
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}, {{ name = "web3", address = "{}" }}]

[plugin.hash]
source = "{}"
config = {{ header = "x-user" }}
"#,
        web3.address(),
        component("consistent_hash")
    );
    let mut lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let map_keys = |client: Client, url: String| async move {
        let mut mapping = HashMap::new();
        for key in 0..10_000 {
            let user = format!("user-{key}");
            let reply = client.get_with(&url, &[("x-user", &user)]).await;
            assert_eq!(reply.status, 200);
            mapping.insert(user, reply.served_by().to_string());
        }
        mapping
    };
    let before = map_keys(client.clone(), url.clone()).await;
    let again = map_keys(client.clone(), url.clone()).await;
    assert_eq!(before, again, "the same key always lands on the same server");
    // Spread: each of the three servers holds a fair share of the keys (a
    // balancer that always picks one server fails here).
    for server in ["web1", "web2", "web3"] {
        let share = before.values().filter(|s| *s == server).count();
        assert!(
            (2_000..=4_700).contains(&share),
            "{server} holds {share} of 10,000 keys (a third is 3,333)"
        );
    }
    lab.web2.take().unwrap().kill().await;
    let after = map_keys(client.clone(), url.clone()).await;
    let moved = before.iter().filter(|(k, server)| after[*k] != **server).count();
    let on_web2 = before.values().filter(|s| *s == "web2").count();
    eprintln!(
        "consistent hash: {on_web2} of 10,000 keys were on web2; {moved} moved when it died (bound 1.5/N = 5,000)"
    );
    assert!(on_web2 > 0);
    assert_eq!(moved, on_web2, "only web2's keys moved");
    for (key, server) in &before {
        if server != "web2" {
            assert_eq!(&after[key], server, "{key} was not web2's and stayed");
        }
    }
    assert!(moved <= 10_000 * 3 / 2 / 3, "moved {moved}");
    assert!(after.values().all(|s| s != "web2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_past_the_limit_across_workers() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["limit"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[plugin.limit]
source = "{}"
config = {{ limit = 50, window_ms = 10000 }}
"#,
        component("rate_limit")
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    // 8 clients, 10 requests each, on the proxy's 2 worker threads.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..10 {
                let reply = client.get(&url).await;
                if reply.status == 429 {
                    assert_eq!(reply.header("retry-after"), Some("10"));
                }
                statuses.push(reply.status.as_u16());
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (ok, limited),
        (50, 30),
        "exactly the limit passes, shared by every instance"
    );
    assert_eq!(lab.web1.as_ref().unwrap().hits(), 50);
}
