//! Hot swap under load: plugin files replaced, broken plugins dropped in,
//! the configuration reloaded, certificates renewed; no request fails.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::config::{Admin, Backend, Listener, Plugin, ProxyConfig, Tls};
use support::{der_of, eventually, fixture, load, replace_file, Lab, LabParts, Reply};

/// One listener whose only plugin is the file `DIR/tag.wasm`, one TLS
/// listener whose certificate is `DIR/live/*.pem`.
fn tagged(parts: &LabParts, dir: &Path) -> ProxyConfig {
    let mut config = ProxyConfig {
        admin: Some(Admin {
            bind: support::ANY_PORT.into(),
            token: None,
        }),
        listeners: vec![
            Listener::plain("web").plugins(&["tag"]).default_backend("www"),
            Listener {
                tls: Some(Tls {
                    cert: Some(dir.join("live/fullchain.pem")),
                    key: Some(dir.join("live/privkey.pem")),
                    ..Tls::default()
                }),
                ..Listener::plain("secure").default_backend("www")
            },
        ],
        ..ProxyConfig::default()
    };
    config
        .backends
        .insert("www".into(), Backend::of(&[("web1", parts.web1), ("web2", parts.web2)]));
    config.plugins.insert(
        "tag".into(),
        Plugin {
            source: dir.join("tag.wasm").display().to_string(),
            ..Plugin::default()
        },
    );
    config
}

fn tag_bytes(version: &str) -> Vec<u8> {
    std::fs::read(fixture(&format!("tag_{version}"))).unwrap()
}

/// A lab whose plugin file starts as version `a`, and whose certificate
/// lives behind certbot-style `live/` symlinks into `archive/`.
async fn tagged_lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    prepare_dir(dir.path());
    let lab = Lab::start_with(|parts| tagged(parts, dir.path())).await;
    std::mem::forget(dir);
    lab
}

fn prepare_dir(dir: &Path) {
    std::fs::write(dir.join("tag.wasm"), tag_bytes("a")).unwrap();
    std::fs::create_dir_all(dir.join("archive")).unwrap();
    std::fs::create_dir_all(dir.join("live")).unwrap();
    let cert = switchyard::demo::SelfSigned::generate(&["localhost"]).unwrap();
    std::fs::write(dir.join("archive/fullchain1.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("archive/privkey1.pem"), &cert.key_pem).unwrap();
    std::os::unix::fs::symlink("../archive/fullchain1.pem", dir.join("live/fullchain.pem")).unwrap();
    std::os::unix::fs::symlink("../archive/privkey1.pem", dir.join("live/privkey.pem")).unwrap();
}

fn plugin_path(lab: &Lab) -> PathBuf {
    let generation = lab.proxy.proxy().generation();
    match &generation.config.plugin("tag").unwrap().source {
        switchyard::config::PluginSource::File(path) => path.clone(),
        other => panic!("unexpected source {other}"),
    }
}

/// Both headers must name the same version: one whole version handled it.
fn one_version(reply: &Reply) -> Result<(), String> {
    let response = reply.header("x-tag").unwrap_or("none").to_string();
    let request = reply.received("x-tag-request");
    if request == [response.clone()] && (response == "a" || response == "b") {
        Ok(())
    } else {
        Err(format!("response tag {response}, request tag {request:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_replaced_50_times_under_load_fails_no_request_and_the_last_version_wins() {
    let lab = tagged_lab().await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let path = plugin_path(&lab);
    let first_version = std::sync::Arc::downgrade(lab.proxy.proxy().generation().plugins.get("tag").unwrap());
    let generation_before = lab.proxy.reloader().status().generation;
    // Every answer's version, with when it came.
    let answers: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    // The load runs until the swaps are over, and for 20,000 requests at
    // least.
    let swaps_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let (client, answers, swaps_done) = (client.clone(), Arc::clone(&answers), Arc::clone(&swaps_done));
        async move {
            let mut report = support::LoadReport::default();
            while !(swaps_done.load(std::sync::atomic::Ordering::SeqCst) && report.ok + report.failures.len() >= 20_000)
            {
                let answers = Arc::clone(&answers);
                let part = load(&client, &url, 800, 8, move |reply| {
                    one_version(reply)?;
                    let tag = reply.header("x-tag").unwrap_or("").to_string();
                    answers.lock().unwrap().push((Instant::now(), tag));
                    Ok(())
                })
                .await;
                report.ok += part.ok;
                report.failures.extend(part.failures);
                report.inconsistent.extend(part.inconsistent);
            }
            report
        }
    });
    support::eventually(Duration::from_secs(20), "the load runs", async || {
        answers.lock().unwrap().len() >= 200
    })
    .await;
    let mut swapped_at = Vec::new();
    for i in 0..50 {
        let version = if i % 2 == 0 { "b" } else { "a" };
        replace_file(&path, &tag_bytes(version));
        swapped_at.push(Instant::now());
        // Past the watcher's settling time (100 ms) and a reload's own
        // time under this load (a debug build, other tests beside it), so
        // each write is a swap of its own: at 200 ms apart, one run in
        // dozens saw two writes read by one reload (49 generations).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    swaps_done.store(true, std::sync::atomic::Ordering::SeqCst);
    let report = load.await.unwrap();
    assert!(
        report.failures.is_empty(),
        "{} failed, e.g. {:?}",
        report.failures.len(),
        report.failures.first()
    );
    assert!(report.inconsistent.is_empty(), "{:?}", report.inconsistent.first());
    assert!(report.ok >= 20_000, "{}", report.ok);
    // The 50th write was version "a".
    eventually(Duration::from_secs(5), "the last version serves", async || {
        client.get(&lab.url("web", "/")).await.header("x-tag") == Some("a")
    })
    .await;
    let status = lab.proxy.reloader().status();
    assert_eq!(
        status.generation - generation_before,
        50,
        "each of the 50 swaps published one generation: {status:?}"
    );
    // The swaps overlapped the load: the version of the answers changed
    // with them, and most swaps had answers after them.
    let (changes, overlapped) = {
        let mut answers = answers.lock().unwrap().clone();
        answers.sort_by_key(|(at, _)| *at);
        let changes = answers
            .iter()
            .filter(|(at, _)| *at > swapped_at[0])
            .map(|(_, tag)| tag.as_str())
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] != w[1])
            .count();
        let last_answer = answers.last().map(|(at, _)| *at);
        let overlapped = swapped_at
            .iter()
            .filter(|at| last_answer.is_some_and(|last| last > **at))
            .count();
        (changes, overlapped)
    };
    eprintln!("50 swaps: the answers' version changed {changes} times after the first; {overlapped} swaps had answers after them");
    assert!(
        changes >= 40,
        "answers followed the swaps: {changes} changes of version"
    );
    assert_eq!(overlapped, 50, "the load overlapped every swap");
    let tag = status.plugins.iter().find(|p| p.name == "tag").unwrap();
    assert_eq!(
        tag.hash,
        switchyard::plugin::ContentHash::of(&tag_bytes("a")).to_string()
    );
    // The first version's instances were freed once its requests ended.
    assert!(first_version.upgrade().is_none(), "the old version is still alive");
}

/// Slow requests that were decided by version a when the file became
/// version b finish as a decided them (both of a's headers), while new
/// requests already get b: a swap never changes a request in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_spanning_a_swap_finish_on_the_version_they_started_with() {
    let lab = tagged_lab().await;
    let client = lab.client();
    let path = plugin_path(&lab);
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), lab.url("web", "/delay/1500"));
            tokio::spawn(async move { client.get(&url).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    replace_file(&path, &tag_bytes("b"));
    eventually(Duration::from_secs(5), "version b serves new requests", async || {
        client.get(&lab.url("web", "/")).await.header("x-tag") == Some("b")
    })
    .await;
    assert!(
        slow.iter().all(|task| !task.is_finished()),
        "the swap happened while the slow requests were in flight"
    );
    for task in slow {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-tag"), Some("a"), "finished on version a");
        assert_eq!(reply.received("x-tag-request"), vec!["a".to_string()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_plugins_are_rejected_under_load_and_the_old_version_keeps_serving() {
    let lab = tagged_lab().await;
    let client = lab.client();
    let url = lab.url("web", "/");
    let path = plugin_path(&lab);
    let load = tokio::spawn({
        let client = client.clone();
        async move {
            load(&client, &url, 6_000, 4, |r: &Reply| {
                (r.header("x-tag") == Some("a"))
                    .then_some(())
                    .ok_or_else(|| format!("{:?}", r.header("x-tag")))
            })
            .await
        }
    });
    let broken: [(&str, Vec<u8>, &str); 3] = [
        (
            "garbage",
            b"\x00asm\x0d\x00\x01\x00 definitely not a component".to_vec(),
            "not a valid Wasm component",
        ),
        (
            "other world",
            std::fs::read(fixture("other_world")).unwrap(),
            "exports none of the hooks",
        ),
        (
            "init rejects",
            std::fs::read(fixture("reject_init")).unwrap(),
            "init rejected the configuration",
        ),
    ];
    for (what, bytes, error) in broken {
        let generation = lab.proxy.reloader().status().generation;
        replace_file(&path, &bytes);
        eventually(Duration::from_secs(5), what, async || {
            let status = lab.proxy.reloader().status();
            let tag = status.plugins.iter().find(|p| p.name == "tag").unwrap();
            tag.last_error.as_deref().is_some_and(|e| e.contains(error))
        })
        .await;
        assert_eq!(
            lab.proxy.reloader().status().generation,
            generation,
            "{what}: nothing published"
        );
        // The admin endpoint shows the error too.
        let admin = lab.proxy.admin_addr().unwrap();
        let status = client.get(&format!("http://{admin}/status")).await;
        assert!(status.body.contains(error), "{what}: {}", status.body);
    }
    let report = load.await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    assert!(
        report.inconsistent.is_empty(),
        "old behaviour must continue: {:?}",
        report.inconsistent.first()
    );
    // A good version clears the error and serves.
    replace_file(&path, &tag_bytes("b"));
    eventually(Duration::from_secs(5), "version b serves", async || {
        client.get(&lab.url("web", "/")).await.header("x-tag") == Some("b")
    })
    .await;
    // The status is recorded just after the swap is published.
    eventually(Duration::from_secs(5), "the error is cleared", async || {
        let status = lab.proxy.reloader().status();
        status
            .plugins
            .iter()
            .find(|p| p.name == "tag")
            .unwrap()
            .last_error
            .is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_reload_adds_and_removes_servers_under_load_and_kept_servers_keep_their_state() {
    let mut lab = tagged_lab().await;
    let web3 = switchyard::demo::Origin::start("web3", support::ANY_PORT.parse().unwrap())
        .await
        .unwrap();
    let client = lab.client();
    let url = lab.url("web", "/");
    let kept = {
        let generation = lab.proxy.proxy().generation();
        std::sync::Arc::clone(generation.backends["www"].backend.server("web1").unwrap())
    };
    let load = tokio::spawn({
        let client = client.clone();
        async move { load(&client, &url, 8_000, 4, |_: &Reply| Ok(())).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    lab.rewrite(|config| {
        let web2 = config.backend_mut("www").server_mut("web2");
        web2.name = "web3".into();
        web2.address = web3.address().to_string();
    });
    eventually(Duration::from_secs(5), "web3 serves", async || {
        let generation = lab.proxy.proxy().generation();
        generation.backends["www"].backend.server("web3").is_some()
    })
    .await;
    let web2_hits = lab.web2.as_ref().unwrap().hits();
    let report = load.await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures.first());
    assert!(web3.hits() > 100, "traffic moved to web3: {}", web3.hits());
    assert!(
        lab.web2.as_ref().unwrap().hits() <= web2_hits + 8,
        "web2 got no new requests"
    );
    let generation = lab.proxy.proxy().generation();
    let now = generation.backends["www"].backend.server("web1").unwrap();
    assert!(std::sync::Arc::ptr_eq(now, &kept), "web1 kept its state and pool");
    assert!(
        now.pool.connects() <= 8,
        "web1's pooled connections survived: {}",
        now.pool.connects()
    );
}

#[tokio::test]
async fn a_broken_config_is_rejected_whole() {
    let mut lab = tagged_lab().await;
    let before = lab.proxy.reloader().status().generation;
    lab.rewrite(|config| config.listener_mut("web").default_backend = Some("nowhere".into()));
    eventually(Duration::from_secs(5), "rejection recorded", async || {
        let status = lab.proxy.reloader().status();
        status
            .last_reload
            .is_some_and(|r| r.error.is_some_and(|e| e.contains("unknown backend \"nowhere\"")))
    })
    .await;
    assert_eq!(lab.proxy.reloader().status().generation, before);
    let reply = lab.client().get(&lab.url("web", "/")).await;
    assert_eq!(reply.status, 200, "the old configuration serves");
}

async fn served_certificate(lab: &Lab) -> Vec<u8> {
    support::served_leaf(lab.addr("secure")).await
}

/// Retargets a `live/` symlink the way certbot does: a new link under a
/// temporary name, renamed over the old one.
fn retarget(link: &Path, target: &str) {
    let tmp = link.with_extension("new-link");
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[tokio::test]
async fn a_renewed_certificate_is_served_to_new_handshakes_and_a_broken_one_is_not() {
    let lab = tagged_lab().await;
    let dir = plugin_path(&lab).parent().unwrap().to_path_buf();
    let first = served_certificate(&lab).await;
    assert_eq!(
        first,
        der_of(&std::fs::read_to_string(dir.join("archive/fullchain1.pem")).unwrap())
    );

    // certbot renew: new files in archive/, live/ symlinks retargeted.
    let renewed = switchyard::demo::SelfSigned::generate(&["localhost"]).unwrap();
    std::fs::write(dir.join("archive/fullchain2.pem"), &renewed.cert_pem).unwrap();
    std::fs::write(dir.join("archive/privkey2.pem"), &renewed.key_pem).unwrap();
    retarget(&dir.join("live/privkey.pem"), "../archive/privkey2.pem");
    retarget(&dir.join("live/fullchain.pem"), "../archive/fullchain2.pem");
    let took = eventually(
        Duration::from_secs(2),
        "the renewed certificate is served",
        async || served_certificate(&lab).await == der_of(&renewed.cert_pem),
    )
    .await;
    eprintln!("renewed certificate served after {took:?}");

    // A key that does not match the certificate: rejected, old one stays.
    let stranger = switchyard::demo::SelfSigned::generate(&["localhost"]).unwrap();
    std::fs::write(dir.join("archive/privkey3.pem"), &stranger.key_pem).unwrap();
    retarget(&dir.join("live/privkey.pem"), "../archive/privkey3.pem");
    eventually(Duration::from_secs(5), "the mismatch is recorded", async || {
        let status = lab.proxy.reloader().status();
        status
            .certificates
            .iter()
            .any(|c| c.last_error.as_deref().is_some_and(|e| e.contains("does not fit")))
    })
    .await;
    assert_eq!(served_certificate(&lab).await, der_of(&renewed.cert_pem));
}
