//! Operating the proxy: Prometheus metrics that move with traffic, the
//! access log, the admin API (token, drain, maintenance) and the status
//! page in a real headless Chromium.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::{Browser, Client, Lab, Reply};

const TOKEN: &str = "test-token-0123456789abcdef";

async fn admin(client: &Client, lab: &Lab, method: http::Method, path: &str, token: Option<&str>) -> Reply {
    let url = format!("http://{}{path}", lab.proxy.admin_addr().expect("admin endpoint"));
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    client
        .send(request.body(Full::<Bytes>::default()).unwrap())
        .await
        .unwrap()
}

/// The value of the sample `series` (name and labels, as exposed).
fn sample(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_request_and_the_admin_token_is_required() {
    let lab = Lab::start(&format!(
        r#"
[admin]
bind = "127.0.0.1:0"
token = "{TOKEN}"

[[listener]]
name = "ops-metrics"
bind = "127.0.0.1:0"
tls = {{ cert = "{{combined}}" }}
plugins = ["forwarded-proto"]
default_backend = "ops-www"

[backend.ops-www]
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}]

[plugin.forwarded-proto]
source = "builtin:forwarded-proto"
"#
    ))
    .await;
    let client = lab.client();
    for (path, token) in [
        ("/metrics", None),
        ("/api/state", None),
        ("/metrics", Some("wrong-token-0123456789")),
    ] {
        let refused = admin(&client, &lab, http::Method::GET, path, token).await;
        assert_eq!(refused.status, 401, "{path} with {token:?}");
        assert!(refused.header("www-authenticate").is_some());
    }
    let page = admin(&client, &lab, http::Method::GET, "/", None).await;
    assert_eq!(page.status, 200, "the page's shell holds no data");
    assert!(!page.body.contains("ops-www"));

    let scrape = async || {
        let reply = admin(&client, &lab, http::Method::GET, "/metrics", Some(TOKEN)).await;
        assert_eq!(reply.status, 200);
        reply.body
    };
    let before = scrape().await;
    let url = lab.url("ops-metrics", "/counted");
    for _ in 0..50 {
        assert_eq!(client.get(&url).await.status, 200);
    }
    let after = scrape().await;
    let delta = |series: &str| sample(&after, series) - sample(&before, series);
    assert_eq!(
        delta(r#"switchyard_requests_total{listener="ops-metrics",class="2xx"}"#),
        50.0
    );
    assert_eq!(
        delta(r#"switchyard_request_duration_seconds_count{listener="ops-metrics"}"#),
        50.0
    );
    let upstream = delta(r#"switchyard_upstream_responses_total{backend="ops-www",server="web1",class="2xx"}"#)
        + delta(r#"switchyard_upstream_responses_total{backend="ops-www",server="web2",class="2xx"}"#);
    assert_eq!(upstream, 50.0);
    assert_eq!(
        sample(&after, r#"switchyard_server_up{backend="ops-www",server="web1"}"#),
        1.0
    );
    assert!(sample(&after, "switchyard_generation") >= 1.0);
    assert!(after.contains("switchyard_plugin_calls_total{plugin=\"forwarded-proto\""));
    assert!(after.contains("# TYPE switchyard_plugin_call_duration_seconds histogram"));
    // The lab's certificate is valid for a year from now.
    let expiry = after
        .lines()
        .find(|l| l.starts_with("switchyard_certificate_expiry_timestamp_seconds{listener=\"ops-metrics\""))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("certificate expiry exposed");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(expiry > now + 86400.0, "expires in the future: {expiry}");

    let state = admin(&client, &lab, http::Method::GET, "/api/state", Some(TOKEN)).await;
    let state: serde_json::Value = serde_json::from_str(&state.body).unwrap();
    assert_eq!(state["backends"][0]["name"], "ops-www");
    assert_eq!(state["certificates"][0]["listener"], "ops-metrics");
    assert!(state["certificates"][0]["subject"].as_str().unwrap().contains("CN="));
}

#[test]
fn an_admin_endpoint_off_loopback_needs_a_token() {
    let open = "[admin]\nbind = \"0.0.0.0:9901\"\n";
    let error = switchyard::config::Config::parse(std::path::Path::new("t.toml"), open)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("t.toml:2") && error.contains("admin.bind") && error.contains("token"),
        "{error}"
    );
    let short = "[admin]\nbind = \"0.0.0.0:9901\"\ntoken = \"short\"\n";
    let error = switchyard::config::Config::parse(std::path::Path::new("t.toml"), short)
        .unwrap_err()
        .to_string();
    assert!(error.contains("admin.token"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_has_a_line_per_request_with_every_field() {
    let lab = Lab::start(
        r#"
[access_log]
format = "json"
path = "{dir}/access.log"

[[listener]]
name = "ops-log"
bind = "127.0.0.1:0"
plugins = ["acme-challenge"]
default_backend = "www"

[backend.www]
servers = [{ name = "web1", address = "{web1}" }]

[backend.letsencrypt]
servers = [{ name = "acme", address = "{acme}" }]

[[listener]]
name = "ops-down"
bind = "127.0.0.1:0"
default_backend = "down"

# Nothing listens on port 1: no connection, retries = 0.
[backend.down]
servers = [{ name = "nobody", address = "127.0.0.1:1" }]
retries = 0

[plugin.acme-challenge]
source = "builtin:acme-challenge"
config = { backend = "letsencrypt" }
"#,
    )
    .await;
    let client = lab.client();
    let reply = client
        .get(&lab.url("ops-log", "/.well-known/acme-challenge/tok?x=1"))
        .await;
    let log = lab.dir.path().join("access.log");
    support::eventually(Duration::from_secs(5), "the line is written", async || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 1)
    })
    .await;
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().next().unwrap()).unwrap();
    eprintln!("access log line: {line}");
    assert_eq!(line["listener"], "ops-log");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["target"], "/.well-known/acme-challenge/tok?x=1");
    assert_eq!(line["version"], "HTTP/1.1");
    assert_eq!(line["status"], reply.status.as_u16());
    assert_eq!(line["backend"], "letsencrypt");
    assert_eq!(line["server"], "acme");
    assert_eq!(line["plugin"], "acme-challenge");
    assert!(line["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(line["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(line["time"].as_str().unwrap().ends_with('Z'));
    assert!(line["bytes"].is_u64() || line["bytes"].is_null());
    assert!(!line["request_id"].as_str().unwrap().is_empty());
    assert!(line["blame"].is_null(), "a server's answer blames nobody: {line}");

    // A request no server can take: 503, blamed on the upstream, in the log
    // and in the metrics.
    let refused = client.get(&lab.url("ops-down", "/")).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    support::eventually(Duration::from_secs(5), "the second line is written", async || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 2)
    })
    .await;
    let second: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().nth(1).unwrap()).unwrap();
    assert_eq!(second["status"], 503);
    assert_eq!(second["blame"], "upstream", "{second}");
    assert_eq!(second["backend"], "down");
    let exposition = switchyard::metrics::metrics().encode();
    assert_eq!(
        sample(
            &exposition,
            r#"switchyard_request_errors_total{listener="ops-down",blame="upstream"}"#
        ),
        1.0,
        "{exposition}"
    );
    assert_eq!(
        sample(
            &exposition,
            r#"switchyard_request_errors_total{listener="ops-log",blame="upstream"}"#
        ),
        0.0
    );

    // The id the server really received (the origin's page lists its
    // request headers) is the one in the log line.
    let page = client.get(&lab.url("ops-log", "/page")).await;
    let received = page.received("x-request-id");
    assert_eq!(received.len(), 1, "one x-request-id reached the server: {}", page.body);
    support::eventually(Duration::from_secs(5), "the third line is written", async || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 3)
    })
    .await;
    let third: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().nth(2).unwrap()).unwrap();
    assert_eq!(third["target"], "/page");
    assert_eq!(third["request_id"].as_str(), Some(received[0].as_str()), "{third}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_moves_traffic_away_without_a_failed_request() {
    let lab = Lab::start(
        r#"
[admin]
bind = "127.0.0.1:0"

[[listener]]
name = "ops-drain"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{ name = "web1", address = "{web1}" }, { name = "web2", address = "{web2}" }]
"#,
    )
    .await;
    let client = lab.client();
    let url = lab.url("ops-drain", "/");
    let load = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move { support::load(&client, &url, 3000, 8, |_| Ok(())).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let drained = admin(
        &client,
        &lab,
        http::Method::POST,
        "/api/backends/www/servers/web1/drain",
        None,
    )
    .await;
    assert_eq!(drained.status, 200, "{}", drained.body);
    let report = load.await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    let web1 = lab.web1.as_ref().unwrap().hits();
    for _ in 0..100 {
        assert_eq!(client.get(&url).await.served_by(), "web2");
    }
    assert_eq!(
        lab.web1.as_ref().unwrap().hits(),
        web1,
        "no new request to a drained server"
    );
    eprintln!(
        "drain under load: {} requests, 0 failed; web1 served {web1} before the drain",
        report.ok
    );

    // Maintenance: seen as down; then back in service.
    let maint = admin(
        &client,
        &lab,
        http::Method::POST,
        "/api/backends/www/servers/web2/maint",
        None,
    )
    .await;
    assert_eq!(maint.status, 200);
    assert_eq!(
        client.get(&url).await.status,
        503,
        "every server drained or in maintenance"
    );
    admin(
        &client,
        &lab,
        http::Method::POST,
        "/api/backends/www/servers/web1/ready",
        None,
    )
    .await;
    admin(
        &client,
        &lab,
        http::Method::POST,
        "/api/backends/www/servers/web2/ready",
        None,
    )
    .await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        seen.insert(client.get(&url).await.served_by().to_string());
    }
    assert_eq!(seen.len(), 2, "both back in rotation: {seen:?}");
    let unknown = admin(
        &client,
        &lab,
        http::Method::POST,
        "/api/backends/www/servers/web9/drain",
        None,
    )
    .await;
    assert_eq!(unknown.status, 404);
}

/// Saves a screenshot of the page next to the test binaries.
fn screenshot(url: &str, name: &str) {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let shot = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
        ])
        .arg("--window-size=1400,900")
        .arg(format!("--screenshot={}", out.display()))
        .arg(url)
        .output()
        .expect("chromium runs (apt-get install chromium)");
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    eprintln!("screenshot: {}", out.display());
}

/// The HTML of a server's row, as the page shows it now.
fn row(server: &str) -> String {
    format!("(document.getElementById('server-www-{server}') || {{}}).outerHTML || ''")
}

fn status_cell(row: &str) -> &str {
    row.split("class=\"status\">")
        .nth(1)
        .and_then(|cell| cell.split('<').next())
        .unwrap_or("")
}

/// The page open in a live Chromium: it shows web1 up, then, refreshing
/// itself (no reload), web1 down with the failed check's error in web1's
/// own row and web2 still up, then web1 back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_a_server_go_down_and_come_back() {
    let mut lab = Lab::start(
        r#"
[admin]
bind = "127.0.0.1:0"

[[listener]]
name = "ops-page"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{ name = "web1", address = "{web1}" }, { name = "web2", address = "{web2}" }]
health_check = { path = "/health", interval = "100ms", timeout = "100ms", rise = 1, fall = 1 }
"#,
    )
    .await;
    let url = format!("http://{}/", lab.proxy.admin_addr().unwrap());
    let mut browser = Browser::open(&url).await;
    let up = browser
        .wait_for(&row("web1"), Duration::from_secs(10), |r| status_cell(r) == "UP")
        .await;
    assert!(!up.contains("class=\"err\""), "no error while up: {up}");
    let summary = browser.evaluate("document.body.innerText").await;
    assert!(
        summary.contains("ops-page") && summary.contains("generation"),
        "{summary}"
    );
    let loaded = browser.time_origin().await;

    let address = lab.web1.as_ref().unwrap().address();
    lab.web1.take().unwrap().kill().await;
    lab.wait_for_health("www", "web1", false, Duration::from_secs(5)).await;
    // The page polls every 2 s.
    let down = browser
        .wait_for(&row("web1"), Duration::from_secs(5), |r| status_cell(r) == "DOWN")
        .await;
    eprintln!("web1's row while down: {down}");
    let error = down
        .split("class=\"err\">")
        .nth(1)
        .and_then(|cell| cell.split('<').next())
        .unwrap_or("");
    assert!(
        error.contains("connect") || error.contains("refused"),
        "the failed check's reason is in web1's row: {down}"
    );
    let web2 = browser.evaluate(&row("web2")).await;
    assert_eq!(status_cell(&web2), "UP", "{web2}");
    assert!(!web2.contains("class=\"err\""), "web2's row shows no error: {web2}");
    assert_eq!(
        browser.time_origin().await,
        loaded,
        "the page refreshed itself, it was not reloaded"
    );
    screenshot(&url, "status-page-down.png");

    lab.web1 = Some(switchyard::demo::Origin::start("web1", address).await.unwrap());
    lab.wait_for_health("www", "web1", true, Duration::from_secs(5)).await;
    browser
        .wait_for(&row("web1"), Duration::from_secs(5), |r| status_cell(r) == "UP")
        .await;
}

#[test]
fn the_log_level_is_a_checked_filter() {
    let parse = |text: &str| switchyard::config::Config::parse(std::path::Path::new("t.toml"), text);
    let config = parse("[global]\nlog_level = \"switchyard=debug,info\"\n").unwrap();
    assert_eq!(config.log_level.as_deref(), Some("switchyard=debug,info"));
    let error = parse("[global]\nlog_level = \"switchyard=[\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("t.toml:2") && error.contains("global.log_level"),
        "{error}"
    );
}
