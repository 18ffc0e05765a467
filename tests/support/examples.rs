//! The example plugins of `examples/plugins/`, built as their authors
//! would build them, once per test (or bench) binary. Shared by the tests
//! and `benches/examples.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

const GUEST_WASM_DIR: &str = switchyard::plugin::builtin::GUEST_WASM_DIR;

/// The component of a Rust example plugin, built with cargo.
pub fn rust_example(name: &str) -> String {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/Cargo.toml");
        // Share the guests' target directory: wit-bindgen compiles once.
        let target_dir = Path::new(GUEST_WASM_DIR)
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
        assert!(status.success(), "the example plugins build");
        target_dir.join("wasm32-wasip2/release")
    });
    dir.join(format!("{name}.wasm")).display().to_string()
}

/// The component of a C, Python or JavaScript example, built by its
/// `build.sh` into `target/example-plugins/OUTPUT`.
pub fn script_example(dir: &str, output: &str) -> String {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(path) = built.get(dir) {
        return path.display().to_string();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/plugins")
        .join(dir)
        .join("build.sh");
    let out_dir = Path::new(GUEST_WASM_DIR)
        .ancestors()
        .nth(3)
        .expect("target dir")
        .join("example-plugins");
    std::fs::create_dir_all(&out_dir).expect("output directory");
    let out = out_dir.join(output);
    let result = Command::new("bash")
        .arg(&script)
        .env("OUT", &out)
        .output()
        .expect("bash runs");
    assert!(
        result.status.success(),
        "{} fails:\n{}\n{}",
        script.display(),
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    built.insert(dir.to_string(), out.clone());
    out.display().to_string()
}
