//! Shared state mirrored in a real Redis (Debian's `redis-server`): two
//! proxy processes count together, and when Redis goes away the plugin's
//! failure policy applies while the proxy keeps serving.

mod support;

use std::time::Duration;

use support::{Client, Lab, ProxyProcess, RedisServer};
use switchyard::demo::Origin;

fn redis_counter(redis: &RedisServer, key: &str) -> Option<i64> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    redis::cmd("GET").arg(key).query(&mut connection).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_proxy_processes_share_one_rate_limit_through_redis() {
    support::init_tracing();
    let redis = RedisServer::start();
    let origin = Origin::start("web1", "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchyard.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[global]
watch = false
workers = 2

[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["limit"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{origin}" }}]

[plugin.limit]
source = "{plugin}"
state_redis = "{url}"
state_sync = "5ms"
config = {{ limit = 40, window_ms = 60000 }}
"#,
            origin = origin.address(),
            plugin = support::rust_example("rate_limit"),
            url = redis.url(),
        ),
    )
    .unwrap();
    let proxies = [ProxyProcess::start(&config), ProxyProcess::start(&config)];
    let urls = proxies
        .iter()
        .map(|p| format!("http://{}/", p.address_logged("listening listener=web")))
        .collect::<Vec<_>>();
    let client = Client::new("");
    // 60 requests to each, alternating, from the same client address: on
    // their own the two would let 80 through.
    let mut passed = [0, 0];
    for i in 0..120 {
        let reply = client.get(&urls[i % 2]).await;
        match reply.status.as_u16() {
            200 => passed[i % 2] += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let total = passed[0] + passed[1];
    eprintln!("rate limit 40 across two processes via Redis: {passed:?} passed, {total} in all");
    assert!(passed[0] > 0 && passed[1] > 0, "both processes served: {passed:?}");
    assert!(
        (40..=48).contains(&total),
        "one limit for both, within a sync interval's slack: {total}"
    );
    assert_eq!(origin.hits(), total as u64);
    // Every attempt was counted in Redis, under the plugin's namespace.
    support::eventually(Duration::from_secs(2), "Redis holds the shared count", async || {
        redis_counter(&redis, "switchyard:limit:c:client:127.0.0.1") == Some(120)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_redis_goes_away_the_failure_policy_applies_and_serving_goes_on() {
    let mut redis = RedisServer::start();
    let template = format!(
        r#"
[[listener]]
name = "open"
bind = "127.0.0.1:0"
plugins = ["limit-open"]
default_backend = "www"

[[listener]]
name = "closed"
bind = "127.0.0.1:0"
plugins = ["limit-closed"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[plugin.limit-open]
source = "{plugin}"
state_redis = "{url}"
on_error = "fail-open"
config = {{ limit = 1000, window_ms = 60000 }}

[plugin.limit-closed]
source = "{plugin}"
state_redis = "{url}"
on_error = "fail-closed"
config = {{ limit = 1000, window_ms = 60000 }}
"#,
        plugin = support::rust_example("rate_limit"),
        url = redis.url(),
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let (open, closed) = (lab.url("open", "/"), lab.url("closed", "/"));
    for _ in 0..10 {
        assert_eq!(client.get(&open).await.status, 200);
        assert_eq!(client.get(&closed).await.status, 200);
    }

    redis.kill();
    let took = support::eventually(Duration::from_secs(5), "fail-closed answers 503", async || {
        client.get(&closed).await.status == 503
    })
    .await;
    eprintln!("Redis killed: the fail-closed plugin answers 503 after {took:?}");
    for _ in 0..20 {
        assert_eq!(client.get(&open).await.status, 200, "fail-open keeps serving");
        assert_eq!(client.get(&closed).await.status, 503);
    }

    let redis = RedisServer::start_again(&redis);
    support::eventually(Duration::from_secs(5), "shared state is back", async || {
        client.get(&closed).await.status == 200
    })
    .await;
    assert_eq!(client.get(&open).await.status, 200);
    // Counting goes on in the new (empty) Redis.
    support::eventually(Duration::from_secs(2), "Redis holds the counts again", async || {
        redis_counter(&redis, "switchyard:limit-closed:c:client:127.0.0.1").is_some_and(|n| n >= 1)
    })
    .await;
}
