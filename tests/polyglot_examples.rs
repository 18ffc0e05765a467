//! The example plugins written in C, Python and JavaScript, each built by
//! its own `build.sh` with the public toolchain (clang + wasi-libc +
//! wit-bindgen + wasm-tools; componentize-py; componentize-js), loaded by a
//! running proxy and driven through real sockets.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::Lab;

fn acl_c() -> String {
    support::script_example("acl-c", "acl.wasm")
}

fn security_headers_py() -> String {
    support::script_example("security-headers-py", "security_headers.wasm")
}

fn maintenance_js() -> String {
    support::script_example("maintenance-js", "maintenance.wasm")
}

/// `GET path` over a connection made from the loopback address `source`:
/// the status and the whole response.
async fn get_from(source: &str, proxy: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(proxy).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the proxy answers")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_acl_allows_and_denies_by_cidr() {
    acl_allows_and_denies_by_cidr(&acl_c()).await;
}

/// The C ACL as built against contract 0.1.0 (`tests/compat/0.1.0/`,
/// unrebuilt) behaves the same under this host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_acl_built_for_contract_0_1_0_behaves_the_same() {
    acl_allows_and_denies_by_cidr(&format!("{}/tests/compat/0.1.0/acl.wasm", env!("CARGO_MANIFEST_DIR"))).await;
}

async fn acl_allows_and_denies_by_cidr(acl: &str) {
    let template = format!(
        r#"
[[listener]]
name = "guarded"
bind = "127.0.0.1:0"
plugins = ["acl"]
default_backend = "www"

[[listener]]
name = "closed"
bind = "127.0.0.1:0"
plugins = ["acl-closed"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[plugin.acl]
source = "{acl}"
config = {{ allow = ["127.0.0.0/8", "::1/128"], deny = ["127.0.0.2/32", "127.0.0.64/26"] }}

[plugin.acl-closed]
source = "{acl}"
config = {{ allow = ["10.0.0.0/8"], status = 451 }}
"#
    );
    let lab = Lab::start(&template).await;
    let guarded = lab.addr("guarded");
    for (source, expected) in [
        ("127.0.0.1", 200),
        ("127.0.0.3", 200),
        ("127.0.0.63", 200),
        ("127.0.0.128", 200),
        ("127.0.0.2", 403),
        ("127.0.0.64", 403),
        ("127.0.0.100", 403),
        ("127.0.0.127", 403),
    ] {
        let (status, text) = get_from(source, guarded, "/acl").await;
        assert_eq!(status, expected, "{source}: {text}");
        if expected == 403 {
            assert!(text.ends_with("forbidden\n"), "{text}");
            assert!(text.to_ascii_lowercase().contains("content-type: text/plain"), "{text}");
        }
    }
    assert_eq!(
        lab.web1.as_ref().unwrap().hits(),
        4,
        "denied requests never reach the server"
    );
    // Outside every allowed range: the default is deny, with the status
    // the configuration chose.
    let (status, _) = get_from("127.0.0.1", lab.addr("closed"), "/").await;
    assert_eq!(status, 451);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_security_headers_are_added() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["security-headers"]
default_backend = "www"

[[listener]]
name = "secure"
bind = "127.0.0.1:0"
tls = {{ cert = "{{combined}}" }}
plugins = ["security-headers"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[plugin.security-headers]
source = "{}"
memory_limit = "128MiB"
timeout = "200ms"
config = {{ hsts_max_age = 600, frame_options = "sameorigin" }}
"#,
        security_headers_py()
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    for (listener, hsts) in [("web", None), ("secure", Some("max-age=600; includeSubDomains"))] {
        for _ in 0..20 {
            let reply = client
                .get_with(&lab.url(listener, "/page"), &[("x-client-ip", "203.0.113.9")])
                .await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(reply.header("x-frame-options"), Some("SAMEORIGIN"));
            assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
            assert_eq!(reply.header("strict-transport-security"), hsts, "{listener}");
            assert_eq!(
                reply.received("x-client-ip"),
                vec!["127.0.0.1"],
                "set by the plugin, replacing the client's"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_maintenance_mode_and_ab_routing() {
    let template = format!(
        r#"
[[listener]]
name = "down"
bind = "127.0.0.1:0"
plugins = ["maintenance"]
default_backend = "a"

[[listener]]
name = "ab"
bind = "127.0.0.1:0"
plugins = ["ab"]
default_backend = "a"

[backend.a]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[backend.b]
servers = [{{ name = "web2", address = "{{web2}}" }}]

[plugin.maintenance]
source = "{js}"
memory_limit = "256MiB"
timeout = "200ms"
config = {{ maintenance = true, retry_after = 120, allow_paths = ["/status", "/.well-known/acme-challenge/"] }}

[plugin.ab]
source = "{js}"
memory_limit = "256MiB"
timeout = "200ms"
config = {{ ab_backend_a = "a", ab_backend_b = "b", ab_percent_b = 25 }}
"#,
        js = maintenance_js()
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();

    let page = client.get(&lab.url("down", "/shop")).await;
    assert_eq!(page.status, 503);
    assert_eq!(page.header("retry-after"), Some("120"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("maintenance"), "{}", page.body);
    assert_eq!(client.get(&lab.url("down", "/status/ping")).await.status, 200);
    assert_eq!(
        client
            .get(&lab.url("down", "/.well-known/acme-challenge/token"))
            .await
            .status,
        200
    );
    assert_eq!(lab.web1.as_ref().unwrap().hits(), 2, "only allowed paths pass");

    // New clients: about 25 % to b, each told its variant in a cookie.
    let url = lab.url("ab", "/");
    let mut to_b = 0;
    for _ in 0..1_000 {
        let reply = client.get(&url).await;
        let variant = if reply.served_by() == "web2" { "b" } else { "a" };
        to_b += usize::from(variant == "b");
        assert_eq!(
            reply.header("set-cookie"),
            Some(format!("ab={variant}; Path=/; Max-Age=86400").as_str())
        );
        assert_eq!(reply.received("x-ab-variant"), vec![variant.to_string()]);
    }
    eprintln!("A/B: {to_b} of 1,000 new clients to b");
    assert!((190..=310).contains(&to_b), "25 % +- 6 %: {to_b}");
    // A returning client keeps its variant, whatever header it sends.
    for _ in 0..50 {
        let reply = client
            .get_with(&url, &[("cookie", "theme=dark; ab=b"), ("x-ab-variant", "a")])
            .await;
        assert_eq!(reply.served_by(), "web2");
        assert_eq!(reply.header("set-cookie"), None);
        assert_eq!(reply.received("x-ab-variant"), vec!["b"]);
    }
}

fn json_check_py() -> String {
    support::script_example("json-check-py", "json_check.wasm")
}

fn post_json(url: &str, content_type: &str, body: Vec<u8>) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::post(url)
        .header("content-type", content_type)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_json_check_reads_the_body() {
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["json-check"]
default_backend = "www"

[backend.www]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[plugin.json-check]
source = "{}"
memory_limit = "128MiB"
timeout = "200ms"
max_body_buffer = "64KiB"
config = {{ paths = ["/api/"], required = ["name"], max_bytes = 4096 }}
"#,
        json_check_py()
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    let url = lab.url("web", "/api/users");
    let send = async |content_type: &str, body: &[u8]| {
        client.send(post_json(&url, content_type, body.to_vec())).await.unwrap()
    };
    // Valid: the server gets the very bytes the plugin read.
    let valid = br#"{"name": "alice", "email": "alice@example.org"}"#;
    let accepted = send("application/json", valid).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.received("body-bytes"), vec![valid.len().to_string()]);
    let expected = switchyard::content_hash::ContentHash::of(valid).to_string();
    assert_eq!(accepted.received("body-sha256"), vec![expected]);
    let hits = lab.web1.as_ref().unwrap().hits();
    // Refused by the plugin, with its reason; nothing reaches the server.
    let broken = send("application/json", b"{\"name\": ").await;
    assert_eq!(broken.status, 400, "{}", broken.body);
    assert!(broken.body.contains("not JSON"), "{}", broken.body);
    let missing = send("application/json", br#"{"email": "bob@example.org"}"#).await;
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert!(missing.body.contains("missing fields: name"), "{}", missing.body);
    let form = send("application/x-www-form-urlencoded", b"name=carol").await;
    assert_eq!(form.status, 415, "{}", form.body);
    // Over max_bytes: the host answers 413 without calling the plugin.
    let mut large = br#"{"name": ""#.to_vec();
    large.extend(std::iter::repeat_n(b'x', 8_000));
    large.extend(br#""}"#);
    let too_large = send("application/json", &large).await;
    assert_eq!(too_large.status, 413, "{}", too_large.body);
    assert_eq!(
        lab.web1.as_ref().unwrap().hits(),
        hits,
        "no refused body reached the server"
    );
    // Outside `paths`: streamed through, never buffered or checked.
    let other = client
        .send(post_json(&lab.url("web", "/upload"), "text/plain", large.clone()))
        .await
        .unwrap();
    assert_eq!(other.status, 200);
    assert_eq!(other.received("body-bytes"), vec![large.len().to_string()]);
}
