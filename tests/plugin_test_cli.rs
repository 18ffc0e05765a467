//! `switchyard plugin test`: golden tests of a plugin without a proxy, run
//! as a plugin author runs them (the binary, a test file, a component):
//! every kind of hook, asks answered from the file, and a non-zero exit
//! on a wrong expectation.

mod support;

use std::path::Path;
use std::process::Command;

fn plugin_test(plugin: &str, cases: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plugin-test.toml");
    std::fs::write(&file, cases).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["plugin", "test", plugin])
        .arg(&file)
        .env("SWITCHYARD_CACHE_DIR", "off")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

const AUTHZ_CASES: &str = r#"
[plugin]
config = { backend = "auth", path = "/check", cache_ttl_ms = 0 }

[[case]]
name = "no credentials"
path = "/"
expect = { action = "respond", status = 401, asks = 0 }

[[case]]
name = "allowed by the service"
headers = { authorization = "Bearer good", "x-auth-user" = "mallory" }
replies = [{ status = 200, headers = { "x-auth-user" = "alice" } }]
expect = { action = "continue", asks = 1, request_headers = { "x-auth-user" = "alice" } }

[[case]]
name = "the service times out"
headers = { authorization = "Bearer good" }
replies = [{ failure = "timeout" }]
expect = { action = "respond", status = 503, body_contains = "unavailable" }
"#;

#[test]
fn golden_tests_pass_and_print_every_decision() {
    let (code, out) = plugin_test(&support::rust_example("ext_authz"), AUTHZ_CASES);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok   no credentials: respond 401"), "{out}");
    assert!(out.contains("ok   allowed by the service: continue; 1 ask(s)"), "{out}");
    assert!(out.contains("ask auth GET /check -> 200"), "{out}");
    assert!(out.contains("ok   the service times out: respond 503"), "{out}");
    assert!(out.contains("3 case(s), 0 failed"), "{out}");
}

#[test]
fn a_wrong_expectation_fails_with_what_came_out() {
    let wrong = AUTHZ_CASES.replace(
        r#"request_headers = { "x-auth-user" = "alice" }"#,
        r#"request_headers = { "x-auth-user" = "mallory" }"#,
    );
    let (code, out) = plugin_test(&support::rust_example("ext_authz"), &wrong);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("FAIL allowed by the service"), "{out}");
    assert!(out.contains("expected request header x-auth-user: mallory"), "{out}");
    assert!(out.contains("3 case(s), 1 failed"), "{out}");
}

#[test]
fn response_hooks_and_balancers_are_tested_too() {
    let pages = r#"
[plugin]
config = { site = "Shop" }

[[case]]
name = "a generated 503 becomes a page"
response = { status = 503, generated = true, blame = "upstream" }
expect = { response = "replace", status = 503, body_contains = "Shop is having trouble" }

[[case]]
name = "a server's 500 is not its business"
response = { status = 500 }
expect = { response = "not called" }
"#;
    let (code, out) = plugin_test(&support::rust_example("error_pages"), pages);
    assert_eq!(code, Some(0), "{out}");
    let hashing = r#"
[plugin]
config = { header = "x-user" }

[[case]]
name = "a key sticks to a server"
headers = { "x-user" = "alice" }
servers = [{ name = "web1" }, { name = "web2" }, { name = "web3" }]

[[case]]
name = "with no server healthy it refuses"
headers = { "x-user" = "alice" }
servers = [{ name = "web1", healthy = false }]
expect = { server = "none" }
"#;
    let (code, out) = plugin_test(&support::rust_example("consistent_hash"), hashing);
    assert_eq!(code, Some(0), "{out}");
    // Whichever server alice hashes to, the output names it.
    assert!(out.contains("ok   a key sticks to a server: picks web"), "{out}");
}

#[test]
fn a_broken_test_file_or_plugin_is_named() {
    let (code, out) = plugin_test(&support::rust_example("ext_authz"), "[[case]]\nnmae = \"typo\"\n");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("plugin-test.toml"), "{out}");
    assert!(out.contains("nmae"), "{out}");
    let missing = Path::new("/nonexistent/plugin.wasm");
    let (code, out) = plugin_test(missing.to_str().unwrap(), AUTHZ_CASES);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("/nonexistent/plugin.wasm"), "{out}");
}
