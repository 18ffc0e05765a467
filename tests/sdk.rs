//! The Rust plugin SDK's own tests (`sdk/rust/tests`: every export macro's
//! world expands, declarations and builders reach the generated types as
//! the contract says), run by `cargo test` in its own target directory.
//! The examples (`tests/examples.rs`, `tests/contract_0_2.rs`) and the Rust
//! scaffold (`tests/scaffold.rs`) drive SDK-built plugins through a proxy.

use std::path::Path;
use std::process::Command;

#[test]
fn the_sdk_passes_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "--manifest-path"])
        .arg(root.join("sdk/rust/Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/sdk"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("test declarations_reach_the_generated_types ... ok"),
        "{stdout}"
    );
}
