//! `switchyard check`, the binary itself: a valid file passes, and broken
//! files get every problem named with file, line, column and field.

mod support;

use std::path::Path;
use std::process::Command;

struct Checked {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn check(config: &Path) -> Checked {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["check", "-c"])
        .arg(config)
        .output()
        .expect("switchyard runs");
    Checked {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts that stderr has a line at `line` naming `field` and saying `words`.
fn assert_reported(checked: &Checked, expected: &[(usize, &str, &str)]) {
    for (line, field, words) in expected {
        let found = checked
            .stderr
            .lines()
            .any(|l| l.contains(&format!(":{line}:")) && l.contains(&format!("{field}:")) && l.contains(words));
        assert!(
            found,
            "missing line {line} `{field}: …{words}…` in:\n{}",
            checked.stderr
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_lab_example_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let lab = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lab.toml")).unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    switchyard::demo::SelfSigned::generate(&["yourwebsite.com"])
        .unwrap()
        .write_combined(&dir.path().join("certs"), "yourwebsite.com.pem")
        .unwrap();
    let path = write(dir.path(), "lab.toml", &lab);
    let checked = check(&path);
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    assert!(
        checked
            .stdout
            .contains("configuration is valid (2 listeners, 2 backends, 4 plugins)"),
        "{}",
        checked.stdout
    );
}

#[test]
fn every_example_config_parses() {
    let examples = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let mut seen = 0;
    for entry in std::fs::read_dir(examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            seen += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            match switchyard::config::Config::parse(&path, &text) {
                Ok(_) => {}
                // Certificates and components named by examples live on
                // the user's machine (tests/examples_check.rs makes them).
                Err(e) => {
                    assert!(
                        e.problems().iter().all(|p| p.message.starts_with("no such file")),
                        "{e}"
                    )
                }
            }
        }
    }
    assert!(seen >= 1);
}

#[test]
fn a_syntax_error_is_placed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.toml",
        "[[listener]]\nname = \"a\"\nbind = \"127.0.0.1:80\nplugins = []\n",
    );
    let checked = check(&path);
    assert_eq!(checked.code, Some(2));
    assert!(
        checked.stderr.contains(&format!("{}:3:", path.display())),
        "{}",
        checked.stderr
    );
}

#[test]
fn every_problem_is_reported_at_once_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "broken.toml",
        r#"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
plugins = ["nope"]
default_backend = "wwww"
colour = "blue"

[[listener]]
name = "tls"
bind = "not an address"
tls = { cert = "missing.pem" }
default_backend = "www"

[backend.www]
servers = [{ name = "a", address = "127.0.0.1:9001", weight = 900 }]
connect_timeout = "soon"
health_check = { path = "health", rise = 0 }

[plugin.gone]
source = "plugins/gone.wasm"
on_error = "fail-sideways"
"#,
    );
    let checked = check(&path);
    assert_eq!(checked.code, Some(2), "{}", checked.stderr);
    assert_reported(
        &checked,
        &[
            // (line, field, words of the message)
            (6, "listener[0]", "unknown field `colour`"),
            (10, "listener[1].bind", "not an address"),
            (11, "listener[1].tls.cert", "no such file"),
            (15, "backend.www.servers[0].weight", "must be from 0 to 256"),
            (16, "backend.www.connect_timeout", "not a duration"),
            (17, "backend.www.health_check.path", "must be a path starting with '/'"),
            (17, "backend.www.health_check.rise", "must be at least 1"),
            (21, "plugin.gone", "unknown variant `fail-sideways`"),
        ],
    );
}

#[test]
fn references_and_plugin_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "refs.toml",
        r#"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
plugins = ["ghost"]
default_backend = "wwww"

[backend.www]
balancer = "missing-balancer"
servers = [{ name = "a", address = "127.0.0.1:9001" }]

[plugin.on-disk]
source = "plugins/absent.wasm"
"#,
    );
    let checked = check(&path);
    assert_eq!(checked.code, Some(2));
    assert_reported(
        &checked,
        &[
            (
                4,
                "listener[0].plugins[0]",
                "unknown plugin \"ghost\"; declared: on-disk",
            ),
            (
                5,
                "listener[0].default_backend",
                "unknown backend \"wwww\"; declared: www",
            ),
            (8, "backend.www.balancer", "unknown plugin \"missing-balancer\""),
            (12, "plugin.on-disk.source", "no such file"),
        ],
    );
}

#[test]
fn plugins_that_fail_to_compile_or_reject_their_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("garbage.wasm"), b"this is not wasm at all").unwrap();
    let path = write(
        dir.path(),
        "plugins.toml",
        &format!(
            r#"[[listener]]
name = "web"
bind = "127.0.0.1:8080"
plugins = ["garbage", "picky", "redirect", "rr"]
default_backend = "www"

[backend.www]
servers = [{{ name = "a", address = "127.0.0.1:9001" }}]

[plugin.garbage]
source = "garbage.wasm"

[plugin.picky]
source = "{fixtures}/reject_init.wasm"
config = {{ required = "nonsense" }}

[plugin.redirect]
source = "builtin:https-redirect"
config = {{ port = 70000 }}

[plugin.rr]
source = "builtin:round-robin"

[plugin.typo]
source = "builtin:round-robbin"
"#,
            fixtures = switchyard::plugin::builtin::GUEST_WASM_DIR
        ),
    );
    let checked = check(&path);
    assert_eq!(checked.code, Some(2), "{}", checked.stderr);
    assert_reported(
        &checked,
        &[
            (11, "plugin.garbage", "not a valid Wasm component"),
            (
                14,
                "plugin.picky",
                "init rejected the configuration: required = \"nonsense\"",
            ),
            (18, "plugin.redirect", "port = 70000"),
            (
                22,
                "plugin.rr",
                "runs it, but it exports neither request-hook nor response-hook",
            ),
            (25, "plugin.typo", "no builtin plugin \"round-robbin\""),
        ],
    );
}

/// A backend's TLS files are checked like a listener's: a missing CA and a
/// protocol that does not fit the TLS when the file is validated; a CA
/// file with no certificate and a client key that does not fit its
/// certificate when it is prepared; each at its place.
#[test]
fn backend_tls_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let validated = r#"[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "missing-ca"

[backend.missing-ca]
servers = [{ name = "a", address = "127.0.0.1:1" }]
tls = { ca = "nowhere/ca.pem" }

[backend.h2-without-tls]
servers = [{ name = "a", address = "127.0.0.1:1" }]
protocol = "h2"
"#;
    let checked = check(&write(dir.path(), "validated.toml", validated));
    assert_eq!(checked.code, Some(2), "{}", checked.stderr);
    assert_reported(
        &checked,
        &[
            (8, "backend.missing-ca.tls.ca", "no such file"),
            (12, "backend.h2-without-tls.protocol", "add `tls = {}`"),
        ],
    );

    std::fs::write(dir.path().join("not-a-ca.pem"), "garbage\n").unwrap();
    let ca = support::TestCa::new(dir.path(), "ca");
    let one = ca.issue(dir.path(), "one", &["one.test"]);
    let two = ca.issue(dir.path(), "two", &["two.test"]);
    let prepared = format!(
        r#"[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "empty-ca"

[backend.empty-ca]
servers = [{{ name = "a", address = "127.0.0.1:1" }}]
tls = {{ ca = "not-a-ca.pem" }}

[backend.wrong-key]
servers = [{{ name = "a", address = "127.0.0.1:1" }}]
tls = {{ ca = "ca.pem", client_cert = "{}", client_key = "{}" }}
"#,
        one.cert.display(),
        two.key.display()
    );
    let checked = check(&write(dir.path(), "prepared.toml", &prepared));
    assert_eq!(checked.code, Some(2), "{}", checked.stderr);
    assert_reported(
        &checked,
        &[
            (8, "backend.empty-ca.tls", "holds no certificate"),
            (12, "backend.wrong-key.tls", "does not fit the certificate"),
        ],
    );
}

/// Several certificates on a listener: an expired one, a key that does not
/// fit, two claiming one name, each reported.
#[test]
fn a_listeners_certificates_are_checked_together() {
    let dir = tempfile::tempdir().unwrap();
    let ca = support::TestCa::new(dir.path(), "ca");
    let a = ca.issue(dir.path(), "a", &["a.test"]);
    let b = ca.issue(dir.path(), "b", &["b.test", "shared.test"]);
    let c = ca.issue(dir.path(), "c", &["shared.test"]);
    let old = ca.issue_expired(dir.path(), "old", &["old.test"]);
    let text = format!(
        r#"[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "www"

[listener.tls]
unknown_name = "refuse"

[[listener.tls.certificates]]
cert = "{a}"
key = "{b_key}"

[[listener.tls.certificates]]
cert = "{b}"
key = "{b_key}"

[[listener.tls.certificates]]
cert = "{c}"
key = "{c_key}"

[[listener.tls.certificates]]
cert = "{old}"
key = "{old_key}"

[backend.www]
servers = [{{ name = "a", address = "127.0.0.1:1" }}]
"#,
        a = a.cert.display(),
        b = b.cert.display(),
        b_key = b.key.display(),
        c = c.cert.display(),
        c_key = c.key.display(),
        old = old.cert.display(),
        old_key = old.key.display(),
    );
    let checked = check(&write(dir.path(), "sni.toml", &text));
    assert_eq!(checked.code, Some(2), "{}", checked.stderr);
    assert_reported(
        &checked,
        &[
            (10, "listener[0].tls", "does not fit the certificate"),
            (22, "listener[0].tls", "expired on 2021-01-01"),
            (10, "listener[0].tls", "two certificates claim the name \"shared.test\""),
        ],
    );
}
