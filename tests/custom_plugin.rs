//! The README's custom plugin, for real: `examples/plugins/path-router`
//! is built with cargo for wasm32-wasip2, exactly as a plugin author would,
//! and loaded by the proxy from its file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Lab;

/// Builds the example once (cargo makes repeated builds no-ops) and returns
/// the component's path.
fn build_path_router() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/path-router/Cargo.toml");
    // Share the guest target directory so wit-bindgen is compiled once.
    let target_dir = Path::new(switchyard::plugin::builtin::GUEST_WASM_DIR)
        .ancestors()
        .nth(2)
        .expect("guest target dir")
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the example plugin builds");
    target_dir.join("wasm32-wasip2/release/path_router.wasm")
}

#[tokio::test]
async fn a_custom_rust_plugin_routes_by_path_prefix() {
    let component = build_path_router();
    let template = format!(
        r#"
[[listener]]
name = "web"
bind = "127.0.0.1:0"
plugins = ["path-router"]
default_backend = "everything"

[backend.everything]
servers = [{{ name = "web1", address = "{{web1}}" }}, {{ name = "web2", address = "{{web2}}" }}]

[backend.api]
servers = [{{ name = "web1", address = "{{web1}}" }}]

[backend.static]
servers = [{{ name = "web2", address = "{{web2}}" }}]

[plugin.path-router]
source = "{component}"
config = {{ routes = {{ "/api/" = "api", "/api/v2/" = "static", "/static/" = "static" }} }}
"#,
        component = component.display()
    );
    let lab = Lab::start(&template).await;
    let client = lab.client();
    for _ in 0..3 {
        let api = client.get(&lab.url("web", "/api/users")).await;
        assert_eq!((api.status.as_u16(), api.served_by()), (200, "web1"));
        assert_eq!(api.header("x-routed-by"), Some("path-router"));
        let longest = client.get(&lab.url("web", "/api/v2/users")).await;
        assert_eq!(longest.served_by(), "web2", "the longest prefix wins");
        let assets = client.get(&lab.url("web", "/static/app.css")).await;
        assert_eq!(assets.served_by(), "web2");
    }
    let a = client.get(&lab.url("web", "/home")).await;
    let b = client.get(&lab.url("web", "/home")).await;
    assert_eq!(a.header("x-routed-by"), None);
    assert_ne!(
        a.served_by(),
        b.served_by(),
        "unmatched paths use the default backend's round-robin"
    );
}
