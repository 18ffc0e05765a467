//! What the example plugins cost, per language: the size of each
//! component, its compile time cold and from the on-disk cache, the memory
//! its code and each instance take (printed once: a compile is far too
//! slow to repeat, and memory is a measurement, not a timing), and one
//! call of its hook (criterion) through the pooled instances the proxy
//! uses.
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
    CandidateServer, CandidateView, ConnectionInfo, PluginEngine, PluginSet, PluginVersion, RequestView, Scheme,
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

/// Sizes and compile times, cold and from the disk cache (`setting`, empty
/// at first).
fn report_compile(config: &Config, setting: &CacheSetting) {
    println!(
        "{:<22} {:>12} {:>12} {:>12}",
        "component", "bytes", "cold", "disk cache"
    );
    let cold = PluginEngine::with_cache(setting).unwrap();
    let warm_engine = || PluginEngine::with_cache(setting).unwrap();
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

/// The process's resident memory, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// What one version costs in memory: its compiled code with the first
/// instance (loaded from the disk cache `report_compile` filled), then each
/// further instance (four started and held, as four workers would), and
/// the linear memory an instance holds after `init`, and how long starting
/// one takes (instantiate + `init`: what a call pays when `pool_size` is
/// below the calls at once).
fn report_memory(config: &Config, cache: &CacheSetting) {
    println!(
        "\n{:<22} {:>16} {:>16} {:>16} {:>12}",
        "component", "code + 1st (MiB)", "per inst. (MiB)", "linear (MiB)", "start"
    );
    let engine = PluginEngine::with_cache(cache).unwrap();
    const MORE: usize = 4;
    for plugin in &config.plugins {
        let switchyard::config::PluginSource::File(path) = &plugin.source else {
            continue;
        };
        let bytes = std::fs::read(path).unwrap();
        let before = rss_kib();
        let version = PluginVersion::load(&engine, plugin, &bytes).unwrap();
        let loaded = rss_kib();
        let started = Instant::now();
        let held: Vec<_> = (0..MORE).map(|_| version.start_instance().unwrap()).collect();
        let start_time = started.elapsed() / MORE as u32;
        let more = rss_kib();
        let mib = |kib: u64| kib as f64 / 1024.0;
        println!(
            "{:<22} {:>16.1} {:>16.1} {:>16.1} {:>12.1?}",
            plugin.name,
            mib(loaded.saturating_sub(before)),
            mib(more.saturating_sub(loaded)) / MORE as f64,
            held[0].memory_size() as f64 / (1 << 20) as f64,
            start_time,
        );
    }
}

fn calls(c: &mut Criterion) {
    let config = Config::parse(Path::new("/tmp/bench.toml"), &config()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache = CacheSetting::Dir(cache.path().to_path_buf());
    report_compile(&config, &cache);
    report_memory(&config, &cache);
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
