//! Contract 0.2 end to end: the response hook (`error-pages`, in one chain
//! with a 0.1.0 component built before 0.2 existed) and asks
//! (`ext-authz` against a real HTTP authorization service, down, slow or
//! answering garbage), through real sockets.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::Lab;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn compat(name: &str) -> String {
    format!("{}/tests/compat/0.1.0/{name}.wasm", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_render_5xx_beside_a_0_1_0_plugin_in_the_same_chain() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "app"
plugins = ["rate-limit", "error-pages"]

[backend.app]
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}]
retries = 0

[plugin.rate-limit]
source = "{}"
config = {{ limit = 1000000, window_ms = 60000 }}

[plugin.error-pages]
source = "{}"
config = {{ site = "Example Shop", server_errors = true }}
"#,
        compat("rate_limit"),
        support::rust_example("error_pages"),
    );
    let mut lab = Lab::start(&template).await;
    let client = lab.client();
    // Outside the interest: a 200 and a 404 pass untouched.
    let ok = client.get(&lab.url("web", "/")).await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("Served by"), "{}", ok.body);
    let missing = client.get(&lab.url("web", "/status/404")).await;
    assert_eq!(missing.status, 404);
    assert_ne!(missing.header("content-type"), Some("text/html; charset=utf-8"));
    // A server's own 500: replaced (server_errors = true).
    let failed = client.get(&lab.url("web", "/status/500")).await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        failed.body.contains("Example Shop is having trouble"),
        "{}",
        failed.body
    );
    assert!(failed.body.contains("The application failed."), "{}", failed.body);
    // The proxy's own 503, every server down: rendered, naming the id.
    lab.web1.take().unwrap().kill().await;
    lab.web2.take().unwrap().kill().await;
    let down = client.get(&lab.url("web", "/")).await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(down.body.contains("Our servers could not answer"), "{}", down.body);
    let id = down.header("x-request-id").expect("the request id").to_string();
    assert!(down.body.contains(&format!("<code>{id}</code>")), "{}", down.body);
    assert_eq!(down.header("cache-control"), Some("no-store"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_0_plugin_answers_as_before_and_its_own_responses_skip_the_response_hook() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "app"
plugins = ["strict-limit", "error-pages"]

[backend.app]
servers = [{{ name = "web1", address = "{{web1}}" }}]

# Its own name: shared state is per plugin name, and the other test
# counts the same client address.
[plugin.strict-limit]
source = "{}"
config = {{ limit = 2, window_ms = 60000 }}

[plugin.error-pages]
source = "{}"
"#,
        compat("rate_limit"),
        support::rust_example("error_pages"),
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    for _ in 0..2 {
        assert_eq!(client.get(&url).await.status, 200);
    }
    let limited = client.get(&url).await;
    assert_eq!(limited.status, 429, "the 0.1.0 rate limit still decides");
    assert!(limited.header("retry-after").is_some());
    // A server's 500 with server_errors unset: not the plugin's.
    let failed = client.get(&lab.url("web", "/status/500")).await;
    assert_eq!(failed.status, 429);
}

/// A real HTTP authorization service: `Bearer good` is alice, `Bearer
/// slow` is answered after 3 s, anything else 401. Counts what it gets.
struct AuthService {
    address: SocketAddr,
    asked: Arc<AtomicU64>,
    _task: tokio::task::JoinHandle<()>,
}

impl AuthService {
    async fn start() -> AuthService {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let asked = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&asked);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = socket.accept().await else {
                    continue;
                };
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let counter = Arc::clone(&counter);
                        async move {
                            let credentials = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            if req.uri().path() == "/check" {
                                counter.fetch_add(1, Ordering::SeqCst);
                            }
                            let mut response = http::Response::new(Full::new(Bytes::new()));
                            match credentials.as_str() {
                                "Bearer good" => {
                                    response.headers_mut().insert("x-auth-user", "alice".parse().unwrap());
                                }
                                "Bearer slow" => {
                                    tokio::time::sleep(Duration::from_secs(3)).await;
                                }
                                _ => *response.status_mut() = http::StatusCode::UNAUTHORIZED,
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        AuthService {
            address,
            asked,
            _task: task,
        }
    }

    fn asked(&self) -> u64 {
        self.asked.load(Ordering::SeqCst)
    }
}

/// A server that answers every request with bytes that are not HTTP.
async fn garbage_server() -> SocketAddr {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = socket.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(b"SSH-2.0-OpenSSH_9.2\r\n\x00\x01garbage\r\n\r\n")
                    .await;
            });
        }
    });
    address
}

fn authz_listener(name: &str, plugin: &str) -> String {
    format!(
        r#"
[[listener]]
name = "{name}"
bind = "127.0.0.1:0"
default_backend = "app"
plugins = ["{plugin}"]
"#
    )
}

fn authz_plugin(name: &str, backend: &str) -> String {
    format!(
        r#"
[plugin.{name}]
source = "{}"
ask_timeout = "300ms"
config = {{ backend = "{backend}", path = "/check", cache_ttl_ms = 60000 }}
"#,
        support::rust_example("ext_authz")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ext_authz_asks_the_service_caches_its_answers_and_fails_closed() {
    let auth = AuthService::start().await;
    let garbage = garbage_server().await;
    // A port nothing listens on.
    let closed = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let template = [
        authz_listener("web", "authz"),
        authz_listener("down", "authz-down"),
        authz_listener("junk", "authz-junk"),
        r#"
[backend.app]
servers = [{ name = "web1", address = "{web1}" }]
"#
        .to_string(),
        format!(
            r#"
[backend.auth]
servers = [{{ name = "auth1", address = "{}" }}]
[backend.auth-down]
servers = [{{ name = "gone", address = "{closed}" }}]
[backend.auth-junk]
servers = [{{ name = "junk", address = "{garbage}" }}]
retries = 0
"#,
            auth.address
        ),
        authz_plugin("authz", "auth"),
        authz_plugin("authz-down", "auth-down"),
        authz_plugin("authz-junk", "auth-junk"),
    ]
    .concat();
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let web1 = lab.web1.as_ref().unwrap();

    // No credentials: refused without asking.
    let anonymous = client.get(&url).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(auth.asked(), 0);

    // Good credentials: through, with the user the service named; a forged
    // x-auth-user from the client never reaches the server.
    let good = [("authorization", "Bearer good"), ("x-auth-user", "mallory")];
    let allowed = client.get_with(&url, &good).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.received("x-auth-user"), vec!["alice".to_string()]);
    assert_eq!(auth.asked(), 1);
    // Cached: twenty more cost no ask.
    for _ in 0..20 {
        let again = client.get_with(&url, &good).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.received("x-auth-user"), vec!["alice".to_string()]);
    }
    assert_eq!(auth.asked(), 1, "answers come from the shared-state cache");

    // Refused by the service: 401 passed on, the server never sees it.
    let hits = web1.hits();
    let refused = client.get_with(&url, &[("authorization", "Bearer wrong")]).await;
    assert_eq!(refused.status, 401);
    assert_eq!(auth.asked(), 2);
    assert_eq!(web1.hits(), hits);

    // A service slower than ask_timeout (300ms): 503 in about that time,
    // and nothing stays stuck.
    let started = Instant::now();
    let slow = client.get_with(&url, &[("authorization", "Bearer slow")]).await;
    let took = started.elapsed();
    assert_eq!(slow.status, 503, "{}", slow.body);
    assert!(slow.body.contains("authorization unavailable"), "{}", slow.body);
    assert!(took >= Duration::from_millis(290), "waited the timeout: {took:?}");
    assert!(took < Duration::from_millis(1_500), "not the service's 3 s: {took:?}");
    assert_eq!(client.get_with(&url, &good).await.status, 200);

    // The service down, or answering garbage: the plugin fails closed.
    let down = client
        .get_with(&lab.url("down", "/"), &[("authorization", "Bearer good")])
        .await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.body.contains("authorization unavailable"), "{}", down.body);
    let junk = client
        .get_with(&lab.url("junk", "/"), &[("authorization", "Bearer good")])
        .await;
    assert_eq!(junk.status, 503, "{}", junk.body);
    assert!(junk.body.contains("authorization unavailable"), "{}", junk.body);
    assert_eq!(
        web1.hits(),
        hits + 1,
        "of all these, only the allowed request reached the server"
    );
    eprintln!("slow service answered 503 after {took:?} (ask_timeout 300ms)");
}

/// An API server that sets CORS headers of its own (`*`, which the proxy
/// must replace) and a header scripts need (`x-total-count`). Counts the
/// requests it gets.
async fn api_server() -> (SocketAddr, Arc<AtomicU64>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    let served = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&served);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = socket.accept().await else {
                continue;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let service = service_fn(move |_req: http::Request<hyper::body::Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let response = http::Response::builder()
                            .header("content-type", "application/json")
                            .header("x-total-count", "42")
                            .header("access-control-allow-origin", "*")
                            .body(Full::new(Bytes::from_static(b"[1,2,3]")))
                            .unwrap();
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_preflights_and_puts_its_policy_on_every_response() {
    let (api, served) = api_server().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "api"
plugins = ["cors"]

[[listener]]
name = "down"
bind = "127.0.0.1:0"
default_backend = "gone"
plugins = ["cors"]

[backend.api]
servers = [{{ name = "api1", address = "{api}" }}]

[backend.gone]
servers = [{{ name = "gone1", address = "{closed}" }}]
retries = 0

[plugin.cors]
source = "{}"
config = {{ allow_origins = ["https://app.example.com", "https://*.example.org"],
           allow_methods = ["GET", "POST", "DELETE"], allow_headers = ["content-type", "authorization"],
           expose_headers = "auto", allow_credentials = true, max_age = 600 }}
"#,
        support::rust_example("cors"),
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let items = lab.url("web", "/items");
    let preflight = |origin: &str, method: &str, headers: &str| {
        let mut request = http::Request::builder()
            .method("OPTIONS")
            .uri(&items)
            .header("origin", origin)
            .header("access-control-request-method", method);
        if !headers.is_empty() {
            request = request.header("access-control-request-headers", headers);
        }
        client.send(request.body(Full::default()).unwrap())
    };

    // Preflights are answered by the plugin; none reaches the server.
    let allowed = preflight("https://app.example.com", "DELETE", "Authorization")
        .await
        .unwrap();
    assert_eq!(allowed.status, 204, "{}", allowed.body);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(allowed
        .header("access-control-allow-methods")
        .unwrap()
        .contains("DELETE"));
    assert_eq!(allowed.header("access-control-allow-headers"), Some("authorization"));
    assert_eq!(allowed.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(allowed.header("access-control-max-age"), Some("600"));
    let wildcard = preflight("https://shop.example.org", "POST", "").await.unwrap();
    assert_eq!(wildcard.status, 204);
    assert_eq!(
        wildcard.header("access-control-allow-origin"),
        Some("https://shop.example.org")
    );
    for (origin, method, headers) in [
        ("https://evil.example.com", "GET", ""),
        ("https://example.org", "GET", ""),
        ("http://shop.example.org", "GET", ""),
        ("https://app.example.com", "PATCH", ""),
        ("https://app.example.com", "GET", "x-secret"),
    ] {
        let refused = preflight(origin, method, headers).await.unwrap();
        assert_eq!(refused.status, 403, "{origin} {method} {headers}: {}", refused.body);
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }
    assert_eq!(served.load(Ordering::SeqCst), 0, "no preflight reached the server");

    // An allowed origin: the server's `*` is replaced by the origin (with
    // credentials, `*` is refused by browsers), its own header exposed.
    let ok = client.get_with(&items, &[("origin", "https://app.example.com")]).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, "[1,2,3]");
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));
    let exposed = ok.header("access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("x-total-count"), "{exposed}");
    assert!(
        !exposed.contains("content-type"),
        "safelisted headers are not listed: {exposed}"
    );
    assert!(ok.header("vary").unwrap_or_default().contains("Origin"));
    // No Origin, or one not allowed: no grant at all, the server's removed.
    for headers in [&[][..], &[("origin", "https://evil.example.com")][..]] {
        let other = client.get_with(&items, headers).await;
        assert_eq!(other.status, 200);
        assert_eq!(other.header("access-control-allow-origin"), None, "{headers:?}");
        assert!(other.header("vary").unwrap_or_default().contains("Origin"));
    }
    assert_eq!(served.load(Ordering::SeqCst), 3);

    // The proxy's own error carries the grant too, so the page's script can
    // read why its call failed.
    let down = client
        .get_with(&lab.url("down", "/items"), &[("origin", "https://app.example.com")])
        .await;
    assert!(down.status.is_server_error(), "{}", down.status);
    assert_eq!(
        down.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}
