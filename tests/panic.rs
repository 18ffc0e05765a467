//! A backend never locks itself out on the evidence of its own failures:
//! when too few of its servers are up (below `panic_threshold`) and some
//! are down by passive health alone, those are tried anyway (Envoy's panic
//! threshold). Servers that active health checks hold down stay down.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::config::{table, Backend, Listener, ProxyConfig};
use support::Lab;
use switchyard::demo::Origin;

/// A loopback port nothing listens on yet.
fn free_address() -> SocketAddr {
    std::net::TcpListener::bind(support::ANY_PORT)
        .unwrap()
        .local_addr()
        .unwrap()
}

fn config(server: SocketAddr, passive: toml::Table, checked: bool) -> ProxyConfig {
    let mut backend = Backend::of(&[("app1", server)]);
    backend.retries = Some(0);
    backend.passive_health = Some(passive);
    if checked {
        backend.health_check = Some(table([
            ("path", "/health".into()),
            ("interval", "100ms".into()),
            ("fall", 1.into()),
        ]));
    }
    let mut config = ProxyConfig {
        listeners: vec![Listener::plain("web").default_backend("app")],
        ..ProxyConfig::default()
    };
    config.backends.insert("app".into(), backend);
    config
}

fn panic_picks() -> f64 {
    let exposition = switchyard::metrics::metrics().encode();
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(r#"switchyard_panic_picks_total{backend="app"} "#))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// One server, no active checks, not listening for the first requests:
/// once it listens, the next request reaches it, not 503 for the whole
/// cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_comes_up_is_used_at_once_despite_passive_health() {
    let address = free_address();
    let passive = table([("failures", 3.into()), ("cooldown", "30s".into())]);
    let lab = Lab::start_with(|_| config(address, passive, false)).await;
    let client = lab.client();
    for _ in 0..3 {
        assert_eq!(client.get(&lab.url("web", "/")).await.status, 503);
    }
    assert!(!lab.server_healthy("app", "app1"), "passive health took it down");
    let before = panic_picks();
    let _app = Origin::start("app1", address).await.unwrap();
    let reply = client.get(&lab.url("web", "/")).await;
    assert_eq!(reply.status, 200, "tried in panic: {}", reply.body);
    assert_eq!(reply.served_by(), "app1");
    assert!(panic_picks() > before, "counted");
}

/// With the threshold at 0 (off), the same server stays out for the
/// cooldown: the test above depends on the panic threshold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_panic_threshold_passive_health_locks_the_backend_out() {
    let address = free_address();
    let passive = table([
        ("failures", 3.into()),
        ("cooldown", "30s".into()),
        ("panic_threshold", 0.0.into()),
    ]);
    let lab = Lab::start_with(|_| config(address, passive, false)).await;
    let client = lab.client();
    for _ in 0..3 {
        assert_eq!(client.get(&lab.url("web", "/")).await.status, 503);
    }
    let _app = Origin::start("app1", address).await.unwrap();
    assert_eq!(client.get(&lab.url("web", "/")).await.status, 503);
}

/// Active checks keep their meaning: a server they hold down is not tried,
/// panic or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_down_by_active_checks_are_not_tried() {
    let address = free_address();
    let passive = table([("failures", 1.into())]);
    let lab = Lab::start_with(|_| config(address, passive, true)).await;
    lab.wait_for_health("app", "app1", false, Duration::from_secs(5)).await;
    let before = panic_picks();
    let reply = lab.client().get(&lab.url("web", "/")).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(panic_picks(), before, "no panic for an actively down server");
}
