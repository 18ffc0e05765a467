//! The on-disk cache of compiled plugins: a new engine (as after a
//! restart) uses the stored artifact instead of compiling, a corrupt entry
//! is rebuilt, and a directory others can write to is refused.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use switchyard::config::CacheSetting;
use switchyard::config::{FailurePolicy, PluginConfig, PluginSource, Position};
use switchyard::plugin::{ConnectionInfo, ContentHash, PluginEngine, PluginVersion, RequestView, Scheme};

fn config() -> PluginConfig {
    PluginConfig {
        name: "tag".into(),
        source: PluginSource::File("tag.wasm".into()),
        on_error: FailurePolicy::Open,
        timeout: Duration::from_millis(50),
        memory_limit: 16 << 20,
        max_calls_per_instance: 1_000,
        state_max_entries: 1_000,
        state_remote: None,
        max_body_buffer: 64 << 10,
        pool_size: 64,
        asks: Default::default(),
        settings: toml::Table::new(),
        at: Position::default(),
    }
}

fn engine(dir: &Path) -> Arc<PluginEngine> {
    PluginEngine::with_cache(&CacheSetting::Dir(dir.to_path_buf())).unwrap()
}

/// The `x-tag` a version of the tag fixture puts on responses.
fn tag_of(plugin: &PluginVersion) -> String {
    let (head, ()) = http::Request::get("/")
        .header("host", "h")
        .body(())
        .unwrap()
        .into_parts();
    let mut view = RequestView {
        head,
        conn: Arc::new(ConnectionInfo::new(
            "192.0.2.1:5555".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
            Scheme::Http,
            Arc::from("test"),
        )),
    };
    let decision = plugin.on_request(&mut view).unwrap();
    decision
        .response_headers
        .iter()
        .find_map(|op| match op {
            switchyard::plugin::HeaderOp::Set(h) if h.name == "x-tag" => {
                Some(String::from_utf8_lossy(&h.value).into_owned())
            }
            _ => None,
        })
        .expect("the tag fixture sets x-tag")
}

#[test]
fn a_new_engine_uses_the_stored_artifact_and_rebuilds_a_corrupt_one() {
    let dir = tempfile::tempdir().unwrap();
    let a = fs::read(support::fixture("tag_a")).unwrap();
    let b = fs::read(support::fixture("tag_b")).unwrap();

    let first = engine(dir.path());
    assert_eq!(tag_of(&PluginVersion::load(&first, &config(), &a).unwrap()), "a");
    let entry_a = first.disk_cache().unwrap().entry(ContentHash::of(&a));
    assert!(entry_a.is_file(), "compiling stores the artifact");
    let entry_b = first.disk_cache().unwrap().entry(ContentHash::of(&b));
    drop(first);

    // Proof that a restarted engine loads the artifact instead of
    // compiling: file version a's artifact under version b's name, and
    // loading b's bytes runs a's code.
    fs::copy(&entry_a, &entry_b).unwrap();
    let second = engine(dir.path());
    assert_eq!(tag_of(&PluginVersion::load(&second, &config(), &b).unwrap()), "a");
    drop(second);

    // A corrupt entry (one flipped byte) is not trusted: b is compiled from
    // its bytes again and the entry rewritten.
    let mut corrupt = fs::read(&entry_b).unwrap();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0x40;
    fs::write(&entry_b, &corrupt).unwrap();
    let third = engine(dir.path());
    assert_eq!(tag_of(&PluginVersion::load(&third, &config(), &b).unwrap()), "b");
    let rewritten = fs::read(&entry_b).unwrap();
    assert_ne!(rewritten, corrupt);
    assert_ne!(rewritten, fs::read(&entry_a).unwrap());

    // A truncated entry too.
    fs::write(&entry_a, &rewritten[..100]).unwrap();
    let fourth = engine(dir.path());
    assert_eq!(tag_of(&PluginVersion::load(&fourth, &config(), &a).unwrap()), "a");
    assert!(fs::metadata(&entry_a).unwrap().len() > 100);
}

#[test]
fn a_directory_others_can_write_to_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let refused = engine(&shared);
    assert!(refused.disk_cache().is_none());
    // Plugins still load, compiled in memory.
    let a = fs::read(support::fixture("tag_a")).unwrap();
    assert_eq!(tag_of(&PluginVersion::load(&refused, &config(), &a).unwrap()), "a");
    assert_eq!(fs::read_dir(&shared).unwrap().count(), 0);

    let private = dir.path().join("new/private");
    assert!(engine(&private).disk_cache().is_some());
    assert_eq!(fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o700);
}
