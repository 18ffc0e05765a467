//! Paths an access rule cannot be tricked by: a corpus of bypass attempts
//! (percent-encoded letters, dot segments, repeated slashes, case, encoded
//! slashes) sent raw against an auth-style plugin written from the docs
//! (`/api/` needs a token) and against the path-router example; each is
//! caught, or reaches the server in the form the plugin saw.

mod support;

use std::time::Duration;

use support::{raw_exchange, Lab};

/// Attempts to reach `/api/x` without the guard seeing `/api/`.
const BYPASSES: &[&str] = &[
    "/%61pi/x",
    "/%61%70%69/x",
    "/a%70i/x",
    "/foo/../api/x",
    "//api/x",
    "///api/x",
    "/./api/x",
    "/api/./x",
    "/%2e/api/x",
    "/%2e%2e/api/x",
    "/public/%2e%2e/api/x",
    "/x/y/../../api/x",
    "/../api/x",
];

fn lab_config(router: &str) -> String {
    format!(
        r#"
[[listener]]
name = "guarded"
bind = "127.0.0.1:0"
plugins = ["guard"]
default_backend = "www"

[[listener]]
name = "routed"
bind = "127.0.0.1:0"
plugins = ["router"]
default_backend = "www"

[[listener]]
name = "caseless"
bind = "127.0.0.1:0"
plugins = ["guard"]
default_backend = "www"
normalize_path = {{ lowercase = true, escaped_slashes = "refuse" }}

[[listener]]
name = "strict"
bind = "127.0.0.1:0"
plugins = ["guard"]
default_backend = "www"
normalize_path = {{ on_change = "refuse" }}

[[listener]]
name = "raw"
bind = "127.0.0.1:0"
plugins = ["guard"]
default_backend = "www"
normalize_path = {{ enabled = false }}

[backend.www]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[backend.api]
servers = [{{ name = "web2", address = "{{web2}}" }}]

[plugin.guard]
source = "{{fixtures}}/api_guard.wasm"

[plugin.router]
source = "{router}"
config = {{ routes = {{ "/api/" = "api" }} }}
"#
    )
}

async fn get(lab: &Lab, listener: &str, path: &str, token: bool) -> (Option<u16>, String) {
    let auth = if token {
        "Authorization: Bearer open-sesame\r\n"
    } else {
        ""
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    raw_exchange(lab.addr(listener), request.as_bytes(), Duration::from_secs(2)).await
}

/// The request line the origin received, from its page.
fn received_target(text: &str) -> Option<String> {
    let page = text.split_once("\r\n\r\n")?.1;
    let line = page.lines().find(|l| l.starts_with("GET "))?;
    line.split_whitespace().nth(1).map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bypass_is_seen_as_the_path_it_means() {
    let lab = Lab::start(&lab_config(&support::rust_example("path_router"))).await;
    let web1 = lab.web1.as_ref().unwrap();
    let web2 = lab.web2.as_ref().unwrap();
    for path in BYPASSES {
        // The guard sees /api/x: without a token, refused, nothing forwarded.
        let before = web1.hits();
        let (status, text) = get(&lab, "guarded", path, false).await;
        assert_eq!(status, Some(401), "{path}: {text}");
        assert_eq!(web1.hits(), before, "{path} reached the server");
        // With a token it passes, and the server gets what the guard saw.
        let (status, text) = get(&lab, "guarded", path, true).await;
        assert_eq!(status, Some(200), "{path}: {text}");
        assert_eq!(received_target(&text).as_deref(), Some("/api/x"), "{path}");
        // The router sends it where /api/ goes.
        let before = web2.hits();
        let (status, text) = get(&lab, "routed", path, false).await;
        assert_eq!(status, Some(200), "{path}: {text}");
        assert_eq!(web2.hits(), before + 1, "{path} was routed to the api backend");
    }
    // A query stays as it was.
    let (_, text) = get(&lab, "guarded", "/foo/../api/x?a=%2e%2e&b=1", true).await;
    assert_eq!(received_target(&text).as_deref(), Some("/api/x?a=%2e%2e&b=1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_settings_case_encoded_slashes_refusal_and_off() {
    let lab = Lab::start(&lab_config(&support::rust_example("path_router"))).await;
    // For servers that ignore case: /API/x is /api/x.
    assert_eq!(get(&lab, "caseless", "/API/x", false).await.0, Some(401));
    assert_eq!(get(&lab, "caseless", "/%41pi/x", false).await.0, Some(401));
    assert_eq!(
        get(&lab, "guarded", "/API/x", false).await.0,
        Some(200),
        "case kept by default"
    );
    // An encoded slash refused where the listener says so, kept otherwise.
    let (status, text) = get(&lab, "caseless", "/public/..%2Fapi/x", false).await;
    assert_eq!(status, Some(400), "{text}");
    assert!(text.contains("encoded slash"), "{text}");
    let (status, text) = get(&lab, "guarded", "/public/..%2Fapi/x", true).await;
    assert_eq!(status, Some(200), "{text}");
    assert_eq!(received_target(&text).as_deref(), Some("/public/..%2Fapi/x"));
    // on_change = "refuse": a path that is not normal is refused.
    let (status, text) = get(&lab, "strict", "/foo/../api/x", false).await;
    assert_eq!(status, Some(400), "{text}");
    assert_eq!(get(&lab, "strict", "/api/x", true).await.0, Some(200));
    // An invalid percent-encoding is refused everywhere normalising is on.
    assert_eq!(get(&lab, "guarded", "/api%zz", true).await.0, Some(400));
    // Normalising off: the raw path, and the bypass works (what the
    // setting would be for).
    assert_eq!(get(&lab, "raw", "/foo/../api/x", false).await.0, Some(200));
}
