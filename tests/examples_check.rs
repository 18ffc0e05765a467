//! The example configurations check clean with `switchyard check` once the
//! files they name exist (certificates made here, the router built from
//! the examples), and their life-like parts are what they say.

mod support;

use std::path::Path;
use std::process::Command;

fn check(config: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check", "-c"])
        .arg(config)
        .output()
        .expect("switchyard runs");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn the_site_example_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/site.toml")).unwrap();
    let ca = support::TestCa::new(root, "ca");
    for domain in ["example.com", "shop.example.org"] {
        let folder = root.join("certs").join(domain);
        std::fs::create_dir_all(&folder).unwrap();
        let issued = ca.issue(&folder, "cert", &[domain, &format!("www.{domain}")]);
        std::fs::rename(&issued.cert, folder.join("fullchain.pem")).unwrap();
        std::fs::rename(&issued.key, folder.join("privkey.pem")).unwrap();
    }
    std::fs::copy(&ca.path, root.join("certs/internal-ca.pem")).unwrap();
    std::fs::create_dir_all(root.join("plugins")).unwrap();
    std::fs::copy(
        support::rust_example("path_router"),
        root.join("plugins/path_router.wasm"),
    )
    .unwrap();
    let config = root.join("site.toml");
    std::fs::write(&config, text).unwrap();
    let (code, output) = check(&config);
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("(2 listeners, 5 backends"), "{output}");
}
