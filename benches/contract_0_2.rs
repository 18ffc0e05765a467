//! What contract 0.2's hooks cost, and what they cost plugins that do not
//! use them.
//!
//! Without sockets, through the pooled instances the proxy uses:
//! - `response_hook/call/error_pages_503`: one response-hook call that
//!   replaces a generated 503 with an HTML page (the `error-pages`
//!   example, built with the Rust SDK).
//! - `response_hook/skip/outside_interest_200`: what a 200 costs a
//!   listener with that plugin: the interest match, no Wasm.
//! - `unused_hooks/*`: the 0.2 checks a request pays when its listener's
//!   plugins export none of the new hooks (the default lab chain): the
//!   body read-ahead size and the response chain's emptiness, next to the
//!   chain itself; and the same request hook (`path-router`) built
//!   against 0.1.0 (the compatibility copy in `tests/compat`) and against
//!   0.2.0 with the SDK, in the same chain code: equal within noise means
//!   a plugin that stays on 0.1 pays nothing for 0.2.
//!
//! Through real sockets on loopback (a running proxy, hyper servers, a
//! keep-alive hyper client; each iteration is one request):
//! - `ask/direct_to_service`: the authorization request sent straight to
//!   the auth service.
//! - `ask/proxy_cached`: a request through the proxy whose `ext-authz`
//!   plugin finds its answer in shared state (no ask).
//! - `ask/proxy_asking`: the same with the cache off, so every request
//!   asks the service first. Minus `proxy_cached`, that is the ask round
//!   trip, to set beside `direct_to_service`.
//!
//!   ./dev bench --bench contract_0_2

#[allow(dead_code)]
#[path = "../tests/support/examples.rs"]
mod examples;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchyard::config::Config;
use switchyard::plugin::{ConnectionInfo, PluginEngine, PluginSet, RequestView, ResponseChain, ResponseView, Scheme};
use switchyard::running::RunningProxy;

fn request(path: &str) -> RequestView {
    let (head, ()) = http::Request::get(path)
        .header("host", "www.example.com")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
        .header("accept", "text/html,application/xhtml+xml")
        .header("accept-language", "en-GB,en;q=0.9")
        .header("x-request-id", "0f3c2a9e")
        .body(())
        .unwrap()
        .into_parts();
    RequestView {
        head,
        conn: Arc::new(ConnectionInfo::new(
            "192.0.2.10:51000".parse().unwrap(),
            "127.0.0.1:443".parse().unwrap(),
            Scheme::Https,
            Arc::from("www-https"),
        )),
    }
}

fn host_config() -> String {
    format!(
        r#"
[[listener]]
name = "www-https"
bind = "127.0.0.1:0"
plugins = ["forwarded-proto", "acme-challenge", "error-pages"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "127.0.0.1:9001" }}]

[backend.letsencrypt]
servers = [{{ name = "certbot", address = "127.0.0.1:9876" }}]

[backend.api]
servers = [{{ name = "api1", address = "127.0.0.1:9002" }}]

[plugin.forwarded-proto]
source = "builtin:forwarded-proto"

[plugin.acme-challenge]
source = "builtin:acme-challenge"
config = {{ backend = "letsencrypt" }}

[plugin.error-pages]
source = "{error_pages}"
config = {{ site = "Example Shop" }}

[plugin.router-0-1-0]
source = "{router_0_1_0}"
config = {{ routes = {{ "/api/" = "api", "/static/" = "www" }} }}

[plugin.router-0-2-0]
source = "{router_0_2_0}"
config = {{ routes = {{ "/api/" = "api", "/static/" = "www" }} }}
"#,
        error_pages = examples::rust_example("error_pages"),
        router_0_1_0 = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/compat/0.1.0/path_router.wasm")
            .display(),
        router_0_2_0 = examples::rust_example("path_router"),
    )
}

fn hooks(c: &mut Criterion) {
    let engine = PluginEngine::new().unwrap();
    let config = Config::parse(Path::new("bench.toml"), &host_config()).unwrap();
    let set = PluginSet::load(&engine, &config).unwrap();
    let error_pages = Arc::clone(set.get("error-pages").unwrap());
    let mut view = request("/checkout");

    c.bench_function("response_hook/call/error_pages_503", |b| {
        let mut head = ResponseView {
            status: http::StatusCode::SERVICE_UNAVAILABLE,
            generated: true,
            backend: Some(Arc::from("www")),
            blame: Some("upstream"),
            ..ResponseView::default()
        };
        head.headers.insert("retry-after", http::HeaderValue::from_static("5"));
        b.iter(|| error_pages.on_response(&mut view, &mut head).unwrap())
    });
    c.bench_function("response_hook/skip/outside_interest_200", |b| {
        b.iter(|| {
            error_pages
                .response_interest()
                .is_some_and(|i| i.matches(std::hint::black_box(200), false))
        })
    });

    // The lab's HTTPS listener: request hooks only.
    let lab = ["forwarded-proto".to_string(), "acme-challenge".to_string()];
    let chain = set.chain(&lab);
    let responses = set.responses(&lab);
    assert!(responses.is_empty(), "the lab's plugins export no response hook");
    c.bench_function("unused_hooks/checks_0_2_default_chain", |b| {
        b.iter(|| (chain.body_wanted(&view), responses.is_empty()))
    });
    c.bench_function("unused_hooks/default_chain_run", |b| b.iter(|| chain.run(&mut view)));
    assert!(ResponseChain::default().is_empty());

    let mut api = request("/api/v2/orders");
    for name in ["router-0-1-0", "router-0-2-0"] {
        let chain = set.chain(&[name.to_string()]);
        c.bench_function(&format!("unused_hooks/path_router/{name}"), |b| {
            b.iter(|| chain.run(&mut api))
        });
    }
}

/// A keep-alive HTTP/1.1 server answering every request with `respond`.
async fn serve(respond: fn(&http::request::Parts) -> http::Response<Full<Bytes>>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| async move {
                    let (parts, body) = req.into_parts();
                    let _ = body.collect().await;
                    Ok::<_, Infallible>(respond(&parts))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

fn auth_reply(parts: &http::request::Parts) -> http::Response<Full<Bytes>> {
    let allowed = parts.headers.get("authorization").is_some_and(|v| v == "Bearer good");
    http::Response::builder()
        .status(if allowed { 200 } else { 401 })
        .header("x-auth-user", "alice")
        .body(Full::new(Bytes::from_static(b"")))
        .unwrap()
}

fn page(_: &http::request::Parts) -> http::Response<Full<Bytes>> {
    http::Response::new(Full::new(Bytes::from_static(b"<html>hello</html>\n")))
}

fn asks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (auth, origin) = runtime.block_on(async { (serve(auth_reply).await, serve(page).await) });
    let proxy_config = |cache_ttl_ms: u64| {
        format!(
            r#"
[global]
workers = 1

[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["ext-authz"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{origin}" }}]

[backend.auth]
servers = [{{ name = "auth1", address = "{auth}" }}]

[plugin.ext-authz]
source = "{plugin}"
config = {{ backend = "auth", path = "/check", cache_ttl_ms = {cache_ttl_ms} }}
"#,
            plugin = examples::rust_example("ext_authz"),
        )
    };
    let start = |text: String| {
        runtime.block_on(async move {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("bench.toml");
            std::fs::write(&path, text).unwrap();
            let config = Config::load(&path).unwrap();
            RunningProxy::start(config, PluginEngine::new().unwrap()).await.unwrap()
        })
    };
    let cached = start(proxy_config(3_600_000));
    let asking = start(proxy_config(0));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let get = |target: String| {
        let client = client.clone();
        async move {
            let request = http::Request::get(target)
                .header("authorization", "Bearer good")
                .body(Empty::new())
                .unwrap();
            let response = client.request(request).await.unwrap();
            let status = response.status();
            let _ = response.into_body().collect().await.unwrap();
            status
        }
    };
    let targets = [
        ("ask/direct_to_service", format!("http://{auth}/check")),
        (
            "ask/proxy_cached",
            format!("http://{}/page", cached.local_addr("web").unwrap()),
        ),
        (
            "ask/proxy_asking",
            format!("http://{}/page", asking.local_addr("web").unwrap()),
        ),
    ];
    for (name, target) in targets {
        assert_eq!(runtime.block_on(get(target.clone())), 200, "{name}");
        c.bench_function(name, |b| b.iter(|| runtime.block_on(get(target.clone()))));
    }
    runtime.block_on(async {
        cached.shutdown().await;
        asking.shutdown().await;
    });
}

criterion_group!(benches, hooks, asks);
criterion_main!(benches);
