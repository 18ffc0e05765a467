//! What the example plugins cost, per language: the size of each
//! component, its compile time cold and from the on-disk cache (printed
//! once, a compile is far too slow to repeat), and one call of its hook
//! (criterion) through the pooled instances the proxy uses.
//!
//!   ./dev bench --bench examples
//!
//! The examples are built first, as the tests build them (cargo for Rust,
//! each `build.sh` for C, Python and JavaScript).

#[allow(dead_code)]
#[path = "../tests/support/examples.rs"]
mod examples;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::config::CacheSetting;
use switchyard::config::Config;
use switchyard::plugin::{
    CandidateServer, CandidateView, ConnectionInfo, PluginEngine, PluginSet, RequestView, Scheme,
};

fn request() -> RequestView {
    let (head, ()) = http::Request::get("/api/v2/orders?page=3")
        .header("host", "api.example.com")
        .header("user-agent", "curl/8.5.0")
        .header("accept", "*/*")
        .header("cookie", "session=4f2a9c; ab=b; sticky=9c0a8f3e2b1d4c5a")
        .header("x-api-key", "k-123456")
        .body(())
        .unwrap()
        .into_parts();
    RequestView {
        head,
        conn: Arc::new(ConnectionInfo::new(
            "192.0.2.10:51000".parse().unwrap(),
            "127.0.0.1:443".parse().unwrap(),
            Scheme::Https,
            Arc::from("web"),
        )),
    }
}

fn candidates(sequence: u64) -> CandidateView {
    CandidateView {
        backend: Arc::from("www"),
        sequence,
        attempt: 0,
        servers: ["web1", "web2", "web3", "web4"]
            .iter()
            .enumerate()
            .map(|(i, name)| CandidateServer {
                key: switchyard::upstream::server_key(name),
                name: Arc::from(*name),
                address: Arc::from(format!("127.0.0.1:900{}", i + 1)),
                weight: 1,
                healthy: true,
                in_flight: i as u32,
            })
            .collect(),
    }
}

fn config() -> String {
    format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "127.0.0.1:9001" }}]

[backend.api]
servers = [{{ name = "web1", address = "127.0.0.1:9001" }}]

[plugin.path-router]
source = "{path_router}"
config = {{ hosts = {{ "static.example.com" = "www" }}, routes = {{ "/api/" = "api", "/api/v1/" = "www", "/static/" = "www" }} }}

[plugin.canary]
source = "{canary}"
config = {{ backend = "api", percent = 10 }}

[plugin.rate-limit]
source = "{rate_limit}"
config = {{ limit = 1000000000, window_ms = 60000 }}

[plugin.sticky-sessions]
source = "{sticky}"

[plugin.least-in-flight]
source = "{least}"

[plugin.consistent-hash]
source = "{hash}"

[plugin.acl-c]
source = "{acl}"
config = {{ allow = ["10.0.0.0/8", "192.0.2.0/24", "::1/128"], deny = ["192.0.2.99/32"] }}

[plugin.security-headers-py]
source = "{python}"
memory_limit = "128MiB"
timeout = "100ms"

[plugin.maintenance-js]
source = "{js}"
memory_limit = "256MiB"
timeout = "100ms"
config = {{ ab_backend_a = "www", ab_backend_b = "api", ab_percent_b = 50 }}
"#,
        path_router = examples::rust_example("path_router"),
        canary = examples::rust_example("canary"),
        rate_limit = examples::rust_example("rate_limit"),
        sticky = examples::rust_example("sticky_sessions"),
        least = examples::rust_example("least_in_flight"),
        hash = examples::rust_example("consistent_hash"),
        acl = examples::script_example("acl-c", "acl.wasm"),
        python = examples::script_example("security-headers-py", "security_headers.wasm"),
        js = examples::script_example("maintenance-js", "maintenance.wasm"),
    )
}

const HOOKS: &[&str] = &[
    "path-router",
    "canary",
    "rate-limit",
    "acl-c",
    "security-headers-py",
    "maintenance-js",
];
const BALANCERS: &[&str] = &["sticky-sessions", "least-in-flight", "consistent-hash"];

/// Sizes and compile times, cold and from the disk cache.
fn report_compile(config: &Config) {
    let cache = tempfile::tempdir().unwrap();
    let setting = CacheSetting::Dir(cache.path().to_path_buf());
    println!(
        "{:<22} {:>12} {:>12} {:>12}",
        "component", "bytes", "cold", "disk cache"
    );
    let cold = PluginEngine::with_cache(&setting).unwrap();
    let warm_engine = || PluginEngine::with_cache(&setting).unwrap();
    for plugin in &config.plugins {
        let switchyard::config::PluginSource::File(path) = &plugin.source else {
            continue;
        };
        let bytes = std::fs::read(path).unwrap();
        let started = Instant::now();
        cold.compile(&bytes).unwrap();
        let cold_time = started.elapsed();
        let warm = warm_engine();
        let started = Instant::now();
        warm.compile(&bytes).unwrap();
        let cached_time = started.elapsed();
        println!(
            "{:<22} {:>12} {:>12.1?} {:>12.1?}",
            plugin.name,
            bytes.len(),
            cold_time,
            cached_time
        );
    }
}

fn calls(c: &mut Criterion) {
    let config = Config::parse(Path::new("/tmp/bench.toml"), &config()).unwrap();
    report_compile(&config);
    let engine = PluginEngine::new().unwrap();
    let set = PluginSet::load(&engine, &config).unwrap();
    let mut view = request();
    for name in HOOKS {
        let plugin = Arc::clone(set.get(name).unwrap());
        c.bench_function(&format!("example/on_request/{name}"), |b| {
            b.iter(|| plugin.on_request(&mut view).unwrap())
        });
    }
    let mut candidates = candidates(0);
    for name in BALANCERS {
        let plugin = Arc::clone(set.get(name).unwrap());
        c.bench_function(&format!("example/pick/{name}_4_servers"), |b| {
            b.iter(|| {
                candidates.sequence += 1;
                plugin.pick(&mut view, &mut candidates).unwrap()
            })
        });
    }
}

criterion_group!(benches, calls);
criterion_main!(benches);
