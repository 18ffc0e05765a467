//! Plugin cost on the request path, without sockets.
//!
//! - `plugin/on_request/noop`: a hook that reads nothing, the floor.
//! - `plugin/on_request/*`, `plugin/pick/*`: one call of each default
//!   plugin's hook through the pooled, long-lived instances the proxy uses.
//! - `plugin/default_chain/*`: everything the default plugins do for one
//!   request: on the HTTPS listener forwarded-proto + acme-challenge +
//!   round-robin; on the plain listener forwarded-proto + acme-challenge +
//!   https-redirect. Target: under 1 µs on a quiet machine.
//! - `plugin/instance/*`: a long-lived instance versus a fresh instance
//!   per request (instantiate + init + call), the reason instances are
//!   pooled.
//! - `native/forwarded_proto`: the same header edit in plain Rust, for
//!   scale.

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::config::Config;
use switchyard::plugin::{
    builtin, CandidateServer, CandidateView, ConnectionInfo, PluginEngine, PluginSet, PluginVersion, RequestView,
    Scheme,
};

const CONFIG: &str = r#"
[[listener]]
name = "www-http"
bind = "127.0.0.1:0"
plugins = ["forwarded-proto", "acme-challenge", "https-redirect"]

[[listener]]
name = "www-https"
bind = "127.0.0.1:0"
plugins = ["forwarded-proto", "acme-challenge"]
default_backend = "www-backend"

[backend.www-backend]
servers = [{ name = "web1", address = "127.0.0.1:9001" }, { name = "web2", address = "127.0.0.1:9002" }]

[backend.letsencrypt-backend]
servers = [{ name = "letsencrypt", address = "127.0.0.1:9876" }]

[plugin.forwarded-proto]
source = "builtin:forwarded-proto"

[plugin.acme-challenge]
source = "builtin:acme-challenge"
config = { backend = "letsencrypt-backend" }

[plugin.https-redirect]
source = "builtin:https-redirect"
config = { port = 8443 }

[plugin.round-robin]
source = "builtin:round-robin"
"#;

/// A browser-like request head with ten headers.
fn request(scheme: Scheme) -> RequestView {
    let (head, ()) = http::Request::get("/products/42?ref=home")
        .header("host", "shop.example.com")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .header(
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .header("accept-language", "en-GB,en;q=0.5")
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .header("cookie", "session=4f2a9c; theme=dark")
        .header("referer", "https://shop.example.com/")
        .header("upgrade-insecure-requests", "1")
        .header("sec-fetch-dest", "document")
        .header("x-forwarded-proto", "http")
        .body(())
        .unwrap()
        .into_parts();
    RequestView {
        head,
        conn: Arc::new(ConnectionInfo::new(
            "192.0.2.10:51000".parse().unwrap(),
            "127.0.0.1:443".parse().unwrap(),
            scheme,
            Arc::from("www-https"),
        )),
    }
}

fn candidates(sequence: u64) -> CandidateView {
    CandidateView {
        backend: Arc::from("www-backend"),
        sequence,
        attempt: 0,
        servers: ["web1", "web2"]
            .iter()
            .enumerate()
            .map(|(i, name)| CandidateServer {
                key: switchyard::upstream::server_key(name),
                name: Arc::from(*name),
                address: Arc::from(format!("127.0.0.1:900{}", i + 1)),
                weight: 1,
                healthy: true,
                in_flight: 3,
            })
            .collect(),
    }
}

fn plugins(c: &mut Criterion) {
    let engine = PluginEngine::new().unwrap();
    let config = Config::parse(Path::new("bench.toml"), CONFIG).unwrap();
    let set = PluginSet::load(&engine, &config).unwrap();
    let forwarded = Arc::clone(set.get("forwarded-proto").unwrap());
    let acme = Arc::clone(set.get("acme-challenge").unwrap());
    let redirect = Arc::clone(set.get("https-redirect").unwrap());
    let round_robin = Arc::clone(set.get("round-robin").unwrap());
    let https_chain = set.chain(&["forwarded-proto".into(), "acme-challenge".into()]);
    let http_chain = set.chain(&[
        "forwarded-proto".into(),
        "acme-challenge".into(),
        "https-redirect".into(),
    ]);
    let mut candidates = candidates(0);

    let noop_bytes = std::fs::read(Path::new(builtin::GUEST_WASM_DIR).join("noop.wasm")).unwrap();
    let mut noop_config = config.plugin("forwarded-proto").unwrap().clone();
    noop_config.name = "noop".into();
    let noop = PluginVersion::load(&engine, &noop_config, &noop_bytes).unwrap();

    let mut https = request(Scheme::Https);
    let mut http = request(Scheme::Http);
    c.bench_function("plugin/on_request/noop", |b| {
        b.iter(|| noop.on_request(&mut https).unwrap())
    });
    c.bench_function("plugin/on_request/forwarded_proto", |b| {
        b.iter(|| forwarded.on_request(&mut https).unwrap())
    });
    c.bench_function("plugin/on_request/acme_challenge", |b| {
        b.iter(|| acme.on_request(&mut https).unwrap())
    });
    c.bench_function("plugin/on_request/https_redirect_respond", |b| {
        b.iter(|| redirect.on_request(&mut http).unwrap())
    });
    c.bench_function("plugin/pick/round_robin_2_servers", |b| {
        b.iter(|| {
            candidates.sequence += 1;
            round_robin.pick(&mut https, &mut candidates).unwrap()
        })
    });
    c.bench_function("plugin/default_chain/https_forward", |b| {
        b.iter(|| {
            let outcome = https_chain.run(&mut https);
            let choice = {
                candidates.sequence += 1;
                round_robin.pick(&mut https, &mut candidates).unwrap()
            };
            (outcome, choice)
        })
    });
    c.bench_function("plugin/default_chain/http_redirect", |b| {
        b.iter(|| http_chain.run(&mut http))
    });

    // A Wasm call on a pooled instance (the noop plugin declares no memo,
    // so every call enters the guest).
    c.bench_function("plugin/instance/long_lived_call", |b| {
        b.iter(|| noop.on_request(&mut https).unwrap())
    });
    c.bench_function("plugin/instance/fresh_per_request", |b| {
        b.iter(|| {
            let mut instance = forwarded.start_instance().unwrap();
            instance
                .on_request(&mut https, None, forwarded.deadline_ticks())
                .unwrap()
        })
    });

    c.bench_function("native/forwarded_proto", |b| {
        b.iter(|| {
            let headers = &mut https.head.headers;
            headers.insert("x-forwarded-proto", http::HeaderValue::from_static("https"));
            std::hint::black_box(headers.len())
        })
    });
}

criterion_group!(benches, plugins);
criterion_main!(benches);
