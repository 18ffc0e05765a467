//! Builds the guest plugins (`guest-plugins/`, its own workspace) for
//! `wasm32-wasip2` so the default plugins can be embedded in the binary
//! (`builtin:NAME`) and tests find the fixture plugins at
//! `SWITCHYARD_GUEST_WASM_DIR`.
//!
//! The guests get their own target directory (`target/guest-plugins`) so the
//! nested cargo never waits on the outer build's lock.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let guests = manifest_dir.join("guest-plugins");
    for watched in [
        "Cargo.toml",
        "Cargo.lock",
        "forwarded-proto",
        "https-redirect",
        "acme-challenge",
        "round-robin",
        "fixtures",
    ] {
        println!("cargo:rerun-if-changed={}", guests.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", manifest_dir.join("wit").display());
    println!("cargo:rerun-if-env-changed=SWITCHYARD_GUEST_PROFILE");

    let target_root = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir.join("target"));
    let target_dir = absolute(&manifest_dir, &target_root).join("guest-plugins");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&guests)
        .args(["build", "--release", "--locked", "--target", GUEST_TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags are for the host, not for the guests.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        build.env_remove(var);
    }
    // Cargo reads build-script stdout as instructions: keep the nested
    // build's output on stderr.
    let status = build
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build guest-plugins/: {e}"));
    if !status.success() {
        panic!(
            "building guest-plugins/ for {GUEST_TARGET} failed (see above). \
             If the target is missing, run: rustup target add {GUEST_TARGET}"
        );
    }
    let wasm_dir = target_dir.join(GUEST_TARGET).join("release");
    println!("cargo:rustc-env=SWITCHYARD_GUEST_WASM_DIR={}", wasm_dir.display());
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}
