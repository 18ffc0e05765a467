//! `hot_swap`: what a plugin swap costs, end to end through a running proxy
//! (a bench binary, not criterion: each sample is a file write and a wait).
//!
//! - swap latency: from the rename of a new component over the plugin file
//!   to the first response carrying the new version's header (includes the
//!   watcher's 100 ms debounce, which is deliberate);
//! - memory: the process's RSS after 10 swaps and after 1,000 (target:
//!   within 10 %).
//!
//! Two modes: `alternating` swaps between two components (each compiled
//! once, then reused from the engine's cache: what a rollback costs);
//! `unique` makes every swap a never-seen component (a custom section with
//! the swap number is appended), so each one is compiled: a deploy.
//!
//! Run: `cargo bench --bench hot_swap` (SWAPS=N to change the count).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use switchyard::config::Config;
use switchyard::demo::Origin;
use switchyard::plugin::{builtin::GUEST_WASM_DIR, PluginEngine};
use switchyard::running::RunningProxy;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Appends a component-level custom section, making the bytes unique.
fn with_custom_section(component: &[u8], n: usize) -> Vec<u8> {
    let name = b"switchyard-bench";
    let payload = n.to_le_bytes();
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    let mut out = component.to_vec();
    out.push(0); // custom section id
    out.push(section.len() as u8); // LEB128, < 128
    out.extend_from_slice(&section);
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn run(mode: &str, swaps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let a = std::fs::read(Path::new(GUEST_WASM_DIR).join("tag_a.wasm")).unwrap();
    let b = std::fs::read(Path::new(GUEST_WASM_DIR).join("tag_b.wasm")).unwrap();
    let plugin = dir.path().join("tag.wasm");
    std::fs::write(&plugin, &a).unwrap();
    let origin = Origin::start("web1", "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config_path = dir.path().join("switchyard.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[listener]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\nplugins = [\"tag\"]\ndefault_backend = \"www\"\n\
             [backend.www]\nservers = [{{ name = \"web1\", address = \"{}\" }}]\n\
             [plugin.tag]\nsource = \"{}\"\n",
            origin.address(),
            plugin.display()
        ),
    )
    .unwrap();
    let proxy = RunningProxy::start(Config::load(&config_path).unwrap(), PluginEngine::new().unwrap())
        .await
        .unwrap();
    let address: SocketAddr = proxy.local_addr("web").unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let url: http::Uri = format!("http://{address}/").parse().unwrap();
    let tag = || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(url).await.unwrap();
            let tag = response.headers().get("x-tag").map(|v| v.as_bytes().to_vec());
            let _ = response.into_body().collect().await;
            tag
        }
    };
    let mut latencies = Vec::with_capacity(swaps);
    let mut rss_after_10 = 0;
    let mut rss_after_100 = 0;
    for i in 0..swaps {
        let (bytes, expect): (Vec<u8>, &[u8]) = if i % 2 == 0 {
            (b.clone(), b"b")
        } else {
            (a.clone(), b"a")
        };
        let bytes = if mode == "unique" {
            with_custom_section(&bytes, i)
        } else {
            bytes
        };
        let tmp = plugin.with_extension("tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        let written = Instant::now();
        std::fs::rename(&tmp, &plugin).unwrap();
        while tag().await.as_deref() != Some(expect) {
            assert!(written.elapsed() < Duration::from_secs(10), "swap {i} never served");
        }
        latencies.push(written.elapsed());
        if i + 1 == 10 {
            rss_after_10 = rss_kib();
        }
        if i + 1 == 100 {
            rss_after_100 = rss_kib();
        }
    }
    let rss_after_all = rss_kib();
    latencies.sort();
    println!(
        "hot_swap/{mode}: {swaps} swaps; write→serving p50 {:?}, p90 {:?}, max {:?}; \
         RSS after 10 swaps {:.1} MiB, after 100 {:.1} MiB, after {swaps} {:.1} MiB ({:+.1} % vs 10, {:+.1} % vs 100)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        latencies[latencies.len() - 1],
        rss_after_10 as f64 / 1024.0,
        rss_after_100 as f64 / 1024.0,
        rss_after_all as f64 / 1024.0,
        (rss_after_all as f64 / rss_after_10.max(1) as f64 - 1.0) * 100.0,
        (rss_after_all as f64 / rss_after_100.max(1) as f64 - 1.0) * 100.0
    );
    proxy.shutdown().await;
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects a mode.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let swaps = std::env::var("SWAPS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for mode in ["alternating", "unique"] {
        if filter.as_deref().is_none_or(|f| mode.contains(f)) {
            runtime.block_on(run(mode, swaps));
        }
    }
}
