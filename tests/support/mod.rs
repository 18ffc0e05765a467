//! Shared test fixtures, by role: the lab (`lab.rs`) and typed proxy
//! configurations (`config.rs`); clients (`client.rs`); real peer programs
//! (`peers.rs`: nginx, Redis); servers that misbehave (`faulty.rs`); the
//! proxy as a child process (`process.rs`); the example plugins, built as
//! their authors build them (`examples.rs`). Everything is real: sockets,
//! TLS, Wasm components, processes.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use switchyard::plugin::{builtin::GUEST_WASM_DIR, PluginEngine};

#[path = "browser.rs"]
mod browser;
#[path = "client.rs"]
mod client;
#[path = "config.rs"]
pub mod config;
#[path = "examples.rs"]
mod examples;
#[path = "faulty.rs"]
mod faulty;
#[path = "h2raw.rs"]
pub mod h2raw;
#[path = "lab.rs"]
mod lab;
#[path = "peers.rs"]
mod peers;
#[path = "pki.rs"]
mod pki;
#[path = "process.rs"]
mod process;
#[path = "relay.rs"]
mod relay;
#[path = "websocket.rs"]
mod websocket;

#[allow(unused_imports)]
pub use browser::Browser;
#[allow(unused_imports)]
pub use client::{der_of, load, raw_exchange, served_leaf, Client, LoadReport, Reply};
#[allow(unused_imports)]
pub use examples::{rust_example, script_example};
#[allow(unused_imports)]
pub use faulty::{BlackHole, Closer, FixedStatus};
#[allow(unused_imports)]
pub use lab::{add_lab_plugins, lab_config, Lab, LabParts, LAB};
#[allow(unused_imports)]
pub use peers::{Nginx, NginxSite, RedisServer};
#[allow(unused_imports)]
pub use pki::{Issued, TestCa};
#[allow(unused_imports)]
pub use process::ProxyProcess;
#[allow(unused_imports)]
pub use relay::{Fault, Relay, Unreachable};
#[allow(unused_imports)]
pub use websocket::WsEcho;

/// One engine per test process, so each component is compiled once.
pub fn engine() -> Arc<PluginEngine> {
    static ENGINE: OnceLock<Arc<PluginEngine>> = OnceLock::new();
    Arc::clone(ENGINE.get_or_init(|| PluginEngine::new().expect("the Wasm engine starts")))
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// A fixture component built from `guest-plugins/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(GUEST_WASM_DIR).join(format!("{name}.wasm"))
}

pub const ANY_PORT: &str = "127.0.0.1:0";

/// Replaces a file the way deploy tools and editors do: write a temporary
/// file next to it, then rename it over the old one.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-swap");
    std::fs::write(&tmp, bytes).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over");
}

/// Polls `probe` until it returns true.
pub async fn eventually(limit: Duration, what: &str, mut probe: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !probe().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}
