//! Every rule of the lab, end to end through the proxy: real sockets, a
//! generated certificate, the builtin plugins deciding.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use support::{lab_config, Lab, LAB};

#[tokio::test]
async fn plain_http_is_redirected_to_https_with_the_configured_port_path_and_query() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    let http = lab.addr("www-http");
    let reply = client
        .get_with(
            &format!("http://{http}/some/page?x=1&y=two"),
            &[("host", "shop.example:80")],
        )
        .await;
    assert_eq!(reply.status, 302, "HAProxy's `redirect scheme` default status");
    assert_eq!(
        reply.header("location"),
        Some("https://shop.example:9443/some/page?x=1&y=two")
    );
    // The port comes from the plugin's configuration, never from Host.
    let reply = client
        .get_with(&format!("http://{http}/"), &[("host", "shop.example:8080")])
        .await;
    assert_eq!(reply.header("location"), Some("https://shop.example:9443/"));
    let reply = client
        .get_with(&format!("http://{http}/a"), &[("host", "[::1]:80")])
        .await;
    assert_eq!(reply.header("location"), Some("https://[::1]:9443/a"));
    assert_eq!(
        lab.web1.as_ref().unwrap().hits() + lab.web2.as_ref().unwrap().hits(),
        0,
        "nothing forwarded"
    );
}

#[tokio::test]
async fn redirect_omits_port_443_and_uses_the_configured_status() {
    let lab = Lab::start_with(|parts| {
        let mut config = lab_config(parts);
        let redirect = config.plugin_mut("https-redirect");
        redirect.config.insert("port".into(), 443.into());
        redirect.config.insert("status".into(), 301.into());
        config
    })
    .await;
    let reply = lab
        .client()
        .get_with(&lab.url("www-http", "/p?q"), &[("host", "shop.example")])
        .await;
    assert_eq!(reply.status, 301);
    assert_eq!(reply.header("location"), Some("https://shop.example/p?q"));
}

#[tokio::test]
async fn acme_challenges_reach_the_acme_backend_on_both_listeners() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    // Pebble sends the port in Host; the challenge must not be redirected.
    // (Over HTTP/2 the host travels as :authority; a differing Host header
    // would be refused as ambiguous.)
    for (listener, host) in [("www-http", Some("shop.example:80")), ("www-https", None)] {
        let headers: Vec<(&str, &str)> = host.map(|h| ("host", h)).into_iter().collect();
        let reply = client
            .get_with(&lab.url(listener, "/.well-known/acme-challenge/tok-123"), &headers)
            .await;
        assert_eq!(reply.status, 200, "{listener}: {reply:?}");
        assert_eq!(reply.served_by(), "acme-standin", "{listener}");
        assert_eq!(reply.body, format!("tok-123.{}", switchyard::demo::THUMBPRINT));
    }
    // Only the prefix is routed: a look-alike path is redirected.
    let reply = client
        .get(&lab.url("www-http", "/.well-known/acme-challengeX/tok"))
        .await;
    assert_eq!(reply.status, 302);
}

#[tokio::test]
async fn the_origin_receives_x_forwarded_proto_and_a_spoofed_value_is_replaced() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    let reply = client.get(&lab.url("www-https", "/")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.received("x-forwarded-proto"), ["https"]);
    let spoofed = client
        .get_with(&lab.url("www-https", "/"), &[("x-forwarded-proto", "http")])
        .await;
    assert_eq!(
        spoofed.received("x-forwarded-proto"),
        ["https"],
        "the client's value must not survive"
    );
    assert_eq!(spoofed.received("x-forwarded-for"), ["127.0.0.1"]);
}

#[tokio::test]
async fn append_mode_reproduces_haproxy_add_header_literally() {
    let lab = Lab::start_with(|parts| {
        let mut config = lab_config(parts);
        config
            .plugin_mut("forwarded-proto")
            .config
            .insert("mode".into(), "append".into());
        config
    })
    .await;
    let reply = lab
        .client()
        .get_with(&lab.url("www-https", "/"), &[("x-forwarded-proto", "http")])
        .await;
    assert_eq!(reply.received("x-forwarded-proto"), ["http", "https"]);
}

#[tokio::test]
async fn round_robin_alternates_between_the_servers() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    let mut order = Vec::new();
    for _ in 0..40 {
        let reply = client.get(&lab.url("www-https", "/")).await;
        assert_eq!(reply.status, 200);
        order.push(reply.served_by().to_string());
    }
    for pair in order.windows(2) {
        assert_ne!(pair[0], pair[1], "consecutive requests went to one server: {order:?}");
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for name in &order {
        *counts.entry(name.as_str()).or_default() += 1;
    }
    assert_eq!(counts.get("web1"), Some(&20));
    assert_eq!(counts.get("web2"), Some(&20));
}

#[tokio::test]
async fn bodies_and_methods_are_forwarded_and_hop_by_hop_headers_are_not() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    let payload = vec![b'z'; 300_000];
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let request = http::Request::builder()
            .method(method)
            .uri(lab.url("www-https", "/upload?n=1"))
            .header("x-custom", "kept")
            .header("connection", "x-private")
            .header("x-private", "dropped")
            .header("proxy-authorization", "Basic c2VjcmV0")
            .body(Full::new(Bytes::from(payload.clone())))
            .unwrap();
        let reply = client.send(request).await.unwrap();
        assert_eq!(reply.status, 200, "{method}");
        assert!(
            reply.body.contains(&format!("{method} /upload?n=1 HTTP/1.1")),
            "{}",
            reply.body
        );
        assert_eq!(reply.received("body-bytes"), ["300000"], "{method}");
        assert_eq!(reply.received("x-custom"), ["kept"]);
        assert!(reply.received("x-private").is_empty(), "named in Connection");
        assert!(reply.received("proxy-authorization").is_empty());
        assert!(reply.received("connection").is_empty());
    }
}

#[tokio::test]
async fn the_demo_serves_every_rule() {
    let ports = switchyard::demo::DemoPorts {
        http: support::ANY_PORT.parse().unwrap(),
        https: support::ANY_PORT.parse().unwrap(),
    };
    support::init_tracing();
    let demo = switchyard::demo::Demo::start(ports, support::engine())
        .await
        .expect("demo starts");
    let http = demo.proxy.local_addr("www-http").unwrap();
    let https = demo.proxy.local_addr("www-https").unwrap();
    let guide = demo.guide();
    assert!(guide.contains(&format!("curl -k https://{https}/")), "{guide}");
    let client = support::Client::new(
        &std::fs::read_to_string(
            std::fs::read_to_string(&demo.config_path)
                .unwrap()
                .lines()
                .find_map(|l| {
                    l.split("cert = \"")
                        .nth(1)
                        .map(|r| r.split('"').next().unwrap().to_string())
                })
                .unwrap(),
        )
        .unwrap(),
    );
    let page = client.get(&format!("https://localhost:{}/", https.port())).await;
    assert_eq!(page.status, 200);
    assert!(page.body.starts_with("Served by web"), "{}", page.body);
    let redirect = client.get(&format!("http://{http}/x")).await;
    assert_eq!(redirect.status, 302);
    let challenge = client.get(&format!("http://{http}/.well-known/acme-challenge/t")).await;
    assert_eq!(challenge.served_by(), "acme-standin");
}

/// Contract 0.2's `memo`: `forwarded-proto` declares that its decision
/// depends on the scheme alone, `https-redirect` on the authority, the
/// path and the query. The host calls each once per distinct key and
/// reuses the decision for the rest, and every answer stays right.
#[tokio::test]
async fn memoised_decisions_are_reused_per_declared_key_and_stay_right() {
    let lab = Lab::start(LAB).await;
    let client = lab.client();
    let generation = lab.proxy.proxy().generation();
    let memo_of = |name: &str| {
        let plugin = generation.plugins.get(name).expect("loaded");
        let memo = plugin.memo().expect("the plugin exports memo");
        (memo.len(), memo.hits())
    };
    let (proto_keys, proto_hits) = memo_of("forwarded-proto");
    let (redirect_keys, redirect_hits) = memo_of("https-redirect");
    for _ in 0..20 {
        let reply = client
            .get_with(&lab.url("www-https", "/"), &[("x-forwarded-proto", "http")])
            .await;
        assert_eq!(reply.received("x-forwarded-proto"), ["https"]);
    }
    let http = lab.addr("www-http");
    for target in ["/a", "/b", "/a", "/b", "/a?x"] {
        let reply = client
            .get_with(&format!("http://{http}{target}"), &[("host", "shop.example")])
            .await;
        assert_eq!(reply.status, 302);
        let location = format!("https://shop.example:9443{target}");
        assert_eq!(reply.header("location"), Some(location.as_str()), "{target}");
    }
    let reply = client
        .get_with(&format!("http://{http}/a"), &[("host", "other.example")])
        .await;
    assert_eq!(reply.header("location"), Some("https://other.example:9443/a"));
    // forwarded-proto: one key per scheme; 26 requests, 2 calls.
    let (keys, hits) = memo_of("forwarded-proto");
    assert_eq!((keys - proto_keys, hits - proto_hits), (2, 24));
    // https-redirect: /a, /b, /a?x and /a on another host; 6 requests, 4 calls.
    let (keys, hits) = memo_of("https-redirect");
    assert_eq!((keys - redirect_keys, hits - redirect_hits), (4, 2));
    // A memoised redirect goes out as the plugin's own did, byte for byte
    // but the date: its lines are written once and shared.
    let wire = "GET /w?q HTTP/1.1\r\nHost: wire.example\r\nConnection: close\r\n\r\n";
    let (_, first) = support::raw_exchange(http, wire.as_bytes(), Duration::from_secs(5)).await;
    let (_, again) = support::raw_exchange(http, wire.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(
        memo_of("https-redirect"),
        (keys + 1, hits + 1),
        "the second came from the memo"
    );
    let undated = |text: &str| -> String {
        let lines = text.split_inclusive("\r\n");
        lines.filter(|l| !l.to_ascii_lowercase().starts_with("date:")).collect()
    };
    assert!(
        first.starts_with("HTTP/1.1 302 Found\r\n")
            && first.contains("\r\nlocation: https://wire.example:9443/w?q\r\n")
            && first.ends_with("Redirecting to https://wire.example:9443/w?q\n"),
        "{first}"
    );
    assert_eq!(undated(&again), undated(&first));

    // round-robin handed over its rotation: both servers in turn.
    let balancer = generation.plugins.get("round-robin").expect("loaded");
    assert_eq!(balancer.rotation("www-backend").as_deref(), Some([0, 1].as_slice()));
    // A server goes into maintenance: the next pick asks for a new
    // rotation, without it.
    let web2 = &generation.backends["www-backend"].backend.servers[1];
    web2.set_admin_state(switchyard::upstream::AdminState::Maint);
    for _ in 0..4 {
        let reply = client.get(&lab.url("www-https", "/")).await;
        assert_eq!(reply.served_by(), "web1");
    }
    assert_eq!(balancer.rotation("www-backend").as_deref(), Some([0].as_slice()));
}
