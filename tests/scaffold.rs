//! `switchyard plugin new` for every language: the project it writes
//! builds with the public toolchain and its own `test.sh` passes (build,
//! start the proxy and an origin, check a direct answer and a header edit).

use std::path::Path;
use std::process::Command;

fn scaffold_and_test(lang: &str, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(name);
    let created = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["plugin", "new", "--lang", lang, name, "--dir"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    assert!(String::from_utf8_lossy(&created.stdout).contains("test.sh"));
    // Share the guests' target directory: wit-bindgen compiles once.
    let target_dir = Path::new(switchyard::plugin::builtin::GUEST_WASM_DIR)
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf();
    let test = Command::new("bash")
        .arg(project.join("test.sh"))
        .env("SWITCHYARD", env!("CARGO_BIN_EXE_switchyard"))
        .env("CARGO_TARGET_DIR", target_dir)
        .env("WAIT", "600")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success() && stdout.contains("ok: 2 checks passed"),
        "{lang} project's test.sh:\n{stdout}\n{}",
        String::from_utf8_lossy(&test.stderr)
    );
    // A second project in the same place is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["plugin", "new", "--lang", lang, name, "--dir"])
        .arg(&project)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn a_new_rust_plugin_builds_and_passes_its_test() {
    scaffold_and_test("rust", "rust-router");
}

#[test]
fn a_new_c_plugin_builds_and_passes_its_test() {
    scaffold_and_test("c", "c-router");
}

#[test]
fn a_new_python_plugin_builds_and_passes_its_test() {
    scaffold_and_test("python", "py-router");
}

#[test]
fn a_new_javascript_plugin_builds_and_passes_its_test() {
    scaffold_and_test("js", "js-router");
}
