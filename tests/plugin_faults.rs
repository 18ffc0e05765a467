//! Misbehaving plugins are contained: a trap, an endless loop and an
//! unbounded allocation each get the plugin's failure response within its
//! deadline, the instance is replaced, and other requests keep succeeding.

mod support;

use std::time::{Duration, Instant};

use support::Lab;

const FAULTY: &str = r#"
[[listener]]
name = "faulty"
bind = "127.0.0.1:0"
plugins = ["trap", "spin", "hog"]
default_backend = "web"

[[listener]]
name = "lenient"
bind = "127.0.0.1:0"
plugins = ["trap-open"]
default_backend = "web"

[[listener]]
name = "echo"
bind = "127.0.0.1:0"
plugins = ["echo"]

[backend.web]
servers = [{ name = "web1", address = "{web1}" }, { name = "web2", address = "{web2}" }]

[plugin.trap]
source = "{fixtures}/trap.wasm"
on_error = "fail-closed"
error_status = 500

[plugin.spin]
source = "{fixtures}/spin.wasm"
timeout = "20ms"
error_status = 503

[plugin.hog]
source = "{fixtures}/memory_hog.wasm"
memory_limit = "8MiB"
error_status = 507

[plugin.trap-open]
source = "{fixtures}/trap.wasm"
on_error = "fail-open"

[plugin.echo]
source = "{fixtures}/echo.wasm"
config = { greeting = "hello", port = 8443, nested = { list = ["a", "b"] } }
"#;

async fn timed(lab: &Lab, client: &support::Client, listener: &str, path: &str) -> (support::Reply, Duration) {
    let started = Instant::now();
    let reply = client.get(&lab.url(listener, path)).await;
    (reply, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trap_loop_and_memory_hog_get_their_failure_status_and_others_keep_working() {
    let lab = Lab::start(FAULTY).await;
    let client = lab.client();
    for round in 0..3 {
        let (reply, took) = timed(&lab, &client, "faulty", "/trap").await;
        assert_eq!(reply.status, 500, "round {round}: trap → fail-closed status");
        assert!(reply.body.contains("plugin \"trap\" failed"), "{}", reply.body);
        assert!(took < Duration::from_millis(200), "a trap answers at once ({took:?})");

        // The loop's budget is 20 ms of CPU; it is stopped after at most
        // twice that. The wall-clock backstop (100 timeouts, 2 s) must not
        // be what stopped it: the bound sits far below it.
        let (reply, took) = timed(&lab, &client, "faulty", "/spin").await;
        assert_eq!(
            reply.status, 503,
            "round {round}: endless loop → deadline → fail-closed"
        );
        eprintln!("round {round}: the endless loop was stopped after {took:?} (budget 20 ms)");
        assert!(
            took < Duration::from_millis(400),
            "the loop was stopped by its CPU budget ({took:?})"
        );

        let (reply, took) = timed(&lab, &client, "faulty", "/hog").await;
        assert_eq!(reply.status, 507, "round {round}: memory limit → fail-closed");
        assert!(
            took < Duration::from_millis(400),
            "the hog was stopped at its limit ({took:?})"
        );

        // A fresh instance of each plugin serves the next request.
        let (reply, _) = timed(&lab, &client, "faulty", "/fine").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-fixture"), Some("trap"));
    }
}

/// 8 endless loops, 8 traps and 8 memory hogs at once beside 100 good
/// requests: every good one succeeds, and none waits long (a loop stopped
/// only by the 2 s wall-clock backstop would hold a worker that long).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_succeeding_while_plugins_spin_trap_and_hog() {
    let lab = Lab::start(FAULTY).await;
    let client = lab.client();
    let mut bad = Vec::new();
    for _ in 0..8 {
        for path in ["/spin", "/trap", "/hog"] {
            let (client, url) = (client.clone(), lab.url("faulty", path));
            bad.push(tokio::spawn(async move { client.get(&url).await.status }));
        }
    }
    let mut good = Vec::new();
    for _ in 0..100 {
        let (client, url) = (client.clone(), lab.url("faulty", "/ok"));
        good.push(tokio::spawn(async move {
            let started = Instant::now();
            let status = client.get(&url).await.status;
            (status, started.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    for g in good {
        let (status, took) = g.await.unwrap();
        assert_eq!(status, 200);
        latencies.push(took);
    }
    let mut statuses = Vec::new();
    for b in bad {
        statuses.push(b.await.unwrap().as_u16());
    }
    latencies.sort();
    eprintln!(
        "good requests beside 24 failing plugins: median {:?}, slowest {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    assert!(statuses.iter().all(|s| matches!(s, 500 | 503 | 507)), "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 507).count(),
        8,
        "every hog hit its limit"
    );
    assert!(
        latencies[latencies.len() - 1] < Duration::from_secs(1),
        "the slowest good request: {:?}",
        latencies[latencies.len() - 1]
    );
}

#[tokio::test]
async fn a_fail_open_plugin_is_skipped_when_it_fails() {
    let lab = Lab::start(FAULTY).await;
    let reply = lab.client().get(&lab.url("lenient", "/trap")).await;
    assert_eq!(reply.status, 200, "fail-open skips the plugin: {}", reply.body);
    assert!(reply.served_by().starts_with("web"));
}

#[tokio::test]
async fn the_request_resource_and_config_imports_deliver_what_the_plugin_asks_for() {
    let lab = Lab::start(FAULTY).await;
    let client = lab.client();
    let url = lab.url("echo", "/a%20b/c?x=1&y=%C3%A9");
    let request = http::Request::get(&url)
        .header("x-one", "1")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header("x-binary", http::HeaderValue::from_bytes(&[0x80, 0xff, b'z']).unwrap())
        .body(Default::default())
        .unwrap();
    let reply = client.send(request).await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("x-echo"),
        Some("yes"),
        "response edits apply to direct responses"
    );
    let lines: Vec<&str> = reply.body.lines().collect();
    let has = |l: &str| lines.contains(&l);
    let addr = lab.addr("echo");
    assert!(has("method=GET"), "{lines:?}");
    assert!(has("scheme=http"));
    assert!(has(&format!("authority={addr}")));
    assert!(has("path=/a%20b/c"));
    assert!(has("query=x=1&y=%C3%A9"));
    assert!(has("version=HTTP/1.1"));
    assert!(has("listener=echo"));
    assert!(has(&format!("local-port={}", addr.port())));
    assert!(lines.iter().any(|l| l.starts_with("client-addr=127.0.0.1:")));
    assert!(has("header.x-one=1"));
    assert!(has("header.x-multi=a") && has("header.x-multi=b"));
    assert!(has("x-binary-len=3"), "header values are bytes");
    assert!(has("config.greeting=hello"));
    assert!(has("config.port=8443"));
    assert!(has("config.nested.list.0=a") && has("config.nested.list.1=b"));
    assert!(
        has(r#"config-json={"greeting":"hello","port":8443,"nested":{"list":["a","b"]}}"#),
        "{lines:?}"
    );
    assert_eq!(lab.web1.as_ref().unwrap().hits() + lab.web2.as_ref().unwrap().hits(), 0);
}

const FAILING_BALANCERS: &str = r#"
[[listener]]
name = "closed"
bind = "127.0.0.1:0"
default_backend = "closed"

[[listener]]
name = "open"
bind = "127.0.0.1:0"
default_backend = "open"

[backend.closed]
balancer = "trap-closed"
servers = [{ name = "web1", address = "{web1}" }, { name = "web2", address = "{web2}" }]

[backend.open]
balancer = "trap-open"
servers = [{ name = "web1", address = "{web1}", weight = 3 }, { name = "web2", address = "{web2}", weight = 1 }]

[plugin.trap-closed]
source = "{fixtures}/trap_balancer.wasm"
error_status = 502

[plugin.trap-open]
source = "{fixtures}/trap_balancer.wasm"
on_error = "fail-open"
"#;

/// A balancer that traps: fail-closed answers its status and names the
/// balancer; fail-open hands the pick to the builtin round-robin, which
/// keeps the servers' weights (3:1 here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_balancer_refuses_or_hands_over_to_weighted_round_robin() {
    let lab = Lab::start(FAILING_BALANCERS).await;
    let client = lab.client();
    let refused = client.get(&lab.url("closed", "/")).await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(refused.body.contains("balancer \"trap-closed\""), "{}", refused.body);

    let mut served = std::collections::HashMap::<String, usize>::new();
    for _ in 0..400 {
        let reply = client.get(&lab.url("open", "/")).await;
        assert_eq!(reply.status, 200, "fail-open keeps serving: {}", reply.body);
        *served.entry(reply.served_by().to_string()).or_default() += 1;
    }
    assert_eq!(
        (served.get("web1").copied(), served.get("web2").copied()),
        (Some(300), Some(100)),
        "weights 3:1 are kept by the fallback: {served:?}"
    );
}
