//! `switchyard plugin new` for every language: the project it writes
//! builds with the public toolchain and its own `test.sh` passes (build,
//! start the proxy and an origin, check a direct answer and a header edit).
//! Then the author's first mistake: a line that fails at run time (a
//! Python `NameError`, a JavaScript `ReferenceError`, a Rust panic, the C
//! template's `fail`, which logs its reason before `abort`) is put into
//! the `/hello` branch, and `switchyard plugin test` must show the guest's
//! own words, not only the trap.

use std::path::Path;
use std::process::Command;

/// A run-time mistake to put into a language's template: the file, the
/// line it goes after, the line itself, and what the guest then writes.
struct Mistake {
    file: &'static str,
    after: &'static str,
    line: &'static str,
    says: &'static str,
}

fn mistake(lang: &str) -> Mistake {
    match lang {
        "python" => Mistake {
            file: "app.py",
            after: "        if req.path() == \"/hello\":",
            line: "            undefined_name_here()",
            says: "NameError: name 'undefined_name_here' is not defined",
        },
        "js" => Mistake {
            file: "app.js",
            after: "    if (req.path() === '/hello') {",
            line: "      undefinedNameHere();",
            says: "undefinedNameHere is not defined",
        },
        "c" => Mistake {
            file: "plugin.c",
            after: "    if (hello) {",
            line: "        fail(\"c-plugin: the greeting is gone\");",
            says: "c-plugin: the greeting is gone",
        },
        "rust" => Mistake {
            file: "src/lib.rs",
            after: "        if req.path() == \"/hello\" {",
            line: "            panic!(\"rust-plugin: the greeting is gone\");",
            says: "rust-plugin: the greeting is gone",
        },
        other => panic!("no mistake for {other}"),
    }
}

/// Puts `lang`'s mistake into the project, rebuilds it, and checks that
/// `plugin test` fails showing what the guest wrote.
fn a_failing_plugin_shows_its_own_message(lang: &str, project: &Path, snake: &str, target_dir: &Path) {
    let m = mistake(lang);
    let source = project.join(m.file);
    let text = std::fs::read_to_string(&source).unwrap();
    assert!(
        text.contains(m.after),
        "{lang}: the template no longer has {:?}",
        m.after
    );
    let broken = text.replacen(m.after, &format!("{}\n{}", m.after, m.line), 1);
    std::fs::write(&source, broken).unwrap();
    let built = Command::new("bash")
        .arg(project.join("build.sh"))
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{lang}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let test = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .current_dir(project)
        .args(["plugin", "test", &format!("{snake}.wasm"), "plugin-test.toml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&test.stdout);
    let stderr = String::from_utf8_lossy(&test.stderr);
    assert_eq!(test.status.code(), Some(1), "{lang}: {stdout}");
    assert!(stdout.contains("FAIL answers /hello"), "{lang}: {stdout}");
    // Rust, Python and JavaScript write to stderr: the failure carries it.
    // C (no WASI) logs through host.log: the log line carries it.
    let shown = match lang {
        "c" => stderr.lines().any(|l| l.contains("ERROR") && l.contains(m.says)),
        _ => stdout.contains("the plugin wrote \"") && stdout.contains(m.says),
    };
    assert!(
        shown,
        "{lang}: `plugin test` does not show the guest's message {:?}:\n{stdout}\n{stderr}",
        m.says
    );
}

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
        .env("CARGO_TARGET_DIR", &target_dir)
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
    a_failing_plugin_shows_its_own_message(lang, &project, &name.replace('-', "_"), &target_dir);
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
