//! The plugin host without sockets: each failure is named for what it is,
//! and loading rejects what cannot work.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard::config::{Config, FailurePolicy, PluginConfig, PluginSource, Position};
use switchyard::plugin::{
    builtin, Action, CallFailure, ConnectionInfo, HeaderOp, PluginEngine, PluginError, PluginVersion, RequestView,
    Scheme,
};

#[test]
fn pool_size_bounds_the_instances_kept() {
    // Eight threads calling at once need several instances; afterwards the
    // pool keeps at most `pool_size` of them.
    let run = |pool_size: usize| {
        let bytes = builtin::builtin("forwarded-proto").unwrap();
        let config = PluginConfig {
            pool_size,
            // No recycling: every instance made comes back to the pool.
            max_calls_per_instance: u64::MAX,
            ..plugin_config("forwarded-proto", 4 << 20, "")
        };
        let plugin = Arc::new(PluginVersion::load(&support::engine(), &config, bytes).unwrap());
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (plugin, barrier) = (Arc::clone(&plugin), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    // Long enough for the scheduler to preempt threads in the
                    // middle of calls: on a machine busy with other tests
                    // eight short runs could each finish within one time
                    // slice and never overlap.
                    for _ in 0..20_000 {
                        // forwarded-proto memoises its decision: forgotten
                        // before each call, every call enters an instance
                        // (otherwise the first one answers the rest).
                        plugin.new_generation();
                        plugin.on_request(&mut view("/", Scheme::Https)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        plugin.idle_instances()
    };
    let unbounded = run(64);
    assert!(unbounded > 1, "the calls overlapped: {unbounded} instances were needed");
    assert_eq!(run(1), 1, "pool_size = 1 keeps one");
    assert!(run(3) <= 3);
}

fn plugin_config(name: &str, memory_limit: usize, settings: &str) -> PluginConfig {
    PluginConfig {
        name: name.into(),
        source: PluginSource::Builtin(name.into()),
        on_error: FailurePolicy::Open,
        timeout: Duration::from_millis(20),
        memory_limit,
        max_calls_per_instance: 1_000,
        state_max_entries: 1_000,
        state_remote: None,
        max_body_buffer: 64 << 10,
        pool_size: 64,
        asks: Default::default(),
        settings: toml::from_str(settings).unwrap(),
        at: Position::default(),
    }
}

fn view(path: &str, scheme: Scheme) -> RequestView {
    let (head, ()) = http::Request::get(path)
        .header("host", "example.org")
        .body(())
        .unwrap()
        .into_parts();
    RequestView {
        head,
        conn: Arc::new(ConnectionInfo::new(
            "192.0.2.1:5555".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
            scheme,
            Arc::from("test"),
        )),
    }
}

fn load_fixture(name: &str, memory_limit: usize) -> PluginVersion {
    let bytes = std::fs::read(support::fixture(name)).unwrap();
    PluginVersion::load(&support::engine(), &plugin_config(name, memory_limit, ""), &bytes).unwrap()
}

#[test]
fn each_failure_is_classified() {
    let trap = load_fixture("trap", 4 << 20);
    let spin = load_fixture("spin", 4 << 20);
    let hog = load_fixture("memory_hog", 4 << 20);
    assert!(matches!(
        trap.on_request(&mut view("/trap", Scheme::Http)),
        Err(CallFailure::Trap { .. })
    ));
    assert!(matches!(
        spin.on_request(&mut view("/spin", Scheme::Http)),
        Err(CallFailure::Timeout)
    ));
    assert!(matches!(
        hog.on_request(&mut view("/hog", Scheme::Http)),
        Err(CallFailure::OutOfMemory { limit }) if limit == 4 << 20
    ));
    // The failed instance was discarded; a fresh one answers.
    for plugin in [&trap, &spin, &hog] {
        let decision = plugin.on_request(&mut view("/fine", Scheme::Http)).unwrap();
        assert!(matches!(decision.action, Action::Continue), "{}", plugin.name());
    }
}

#[test]
fn a_spinning_call_is_stopped_after_the_epoch_clock_has_parked() {
    // Its own engine: the shared one's clock is kept running by the other
    // tests' calls.
    let engine = PluginEngine::new().unwrap();
    let bytes = std::fs::read(support::fixture("spin")).unwrap();
    let spin = PluginVersion::load(&engine, &plugin_config("spin", 4 << 20, ""), &bytes).unwrap();
    let parked = |parks: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !(engine.ticker().is_parked() && engine.ticker().parks() >= parks) {
            assert!(Instant::now() < deadline, "the epoch clock did not park without calls");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    parked(1);
    // On a parked clock, the call must wake it, or nothing stops the guest.
    let (sent, answered) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sent.send(spin.on_request(&mut view("/spin", Scheme::Http)));
    });
    let answer = answered
        .recv_timeout(Duration::from_secs(30))
        .expect("a spinning call on a parked epoch clock was never stopped");
    assert!(matches!(answer, Err(CallFailure::Timeout)), "{answer:?}");
    // Without calls the clock parks again.
    parked(2);
}

#[test]
fn a_guest_panic_message_is_part_of_the_failure() {
    let trap = load_fixture("trap", 4 << 20);
    let failure = trap.on_request(&mut view("/panic/here", Scheme::Http)).unwrap_err();
    let CallFailure::Trap { output, .. } = &failure else {
        panic!("expected a trap, got {failure:?}");
    };
    let output = output.as_deref().unwrap_or_default();
    assert!(
        output.contains("the fixture panicked on /panic/here"),
        "{output:?} {failure:?}"
    );
    // The log line and `plugin test` show the message itself.
    let shown = switchyard::report::Report(&failure).to_string();
    assert!(shown.contains("the fixture panicked on /panic/here"), "{shown}");
    // A bare trap wrote nothing; the next call's output starts empty.
    match trap.on_request(&mut view("/trap", Scheme::Http)) {
        Err(CallFailure::Trap { output: None, .. }) => {}
        other => panic!("expected a silent trap, got {other:?}"),
    }
}

#[test]
fn the_request_view_comes_back_intact_after_a_call() {
    let bytes = builtin::builtin("forwarded-proto").unwrap();
    let plugin = PluginVersion::load(
        &support::engine(),
        &plugin_config("forwarded-proto", 16 << 20, ""),
        bytes,
    )
    .unwrap();
    let mut request = view("/p?q=1", Scheme::Https);
    let decision = plugin.on_request(&mut request).unwrap();
    assert_eq!(request.head.uri, "/p?q=1");
    assert_eq!(request.head.headers["host"], "example.org");
    match &decision.request_headers[..] {
        [HeaderOp::Set(h)] => assert_eq!(
            (h.name.as_str(), h.value.as_slice()),
            ("x-forwarded-proto", &b"https"[..])
        ),
        other => panic!("unexpected edits {other:?}"),
    }
}

#[test]
fn loading_rejects_garbage_modules_and_bad_settings() {
    let engine = support::engine();
    let garbage = PluginVersion::load(&engine, &plugin_config("garbage", 16 << 20, ""), b"\0asm not really");
    assert!(matches!(garbage, Err(PluginError::Compile(_))), "{garbage:?}");

    let reject = std::fs::read(support::fixture("reject_init")).unwrap();
    let rejected = PluginVersion::load(&engine, &plugin_config("reject", 16 << 20, "required = \"x\""), &reject);
    match rejected {
        Err(PluginError::InitRejected(message)) => {
            assert!(message.contains("required = \"x\""), "{message}")
        }
        other => panic!("expected InitRejected, got {other:?}"),
    }

    let redirect = builtin::builtin("https-redirect").unwrap();
    let bad_status = PluginVersion::load(
        &engine,
        &plugin_config("https-redirect", 16 << 20, "status = 200"),
        redirect,
    );
    match bad_status {
        Err(PluginError::InitRejected(message)) => {
            assert!(message.contains("status = 200"), "{message}")
        }
        other => panic!("expected InitRejected, got {other:?}"),
    }

    // A core Wasm module is not a component.
    let module = b"\0asm\x01\0\0\0";
    assert!(matches!(
        PluginVersion::load(&engine, &plugin_config("module", 16 << 20, ""), module),
        Err(PluginError::Compile(_))
    ));
}

#[test]
fn a_small_memory_limit_stops_instantiation_cleanly() {
    let bytes = builtin::builtin("round-robin").unwrap();
    let tiny = PluginVersion::load(&support::engine(), &plugin_config("round-robin", 64 << 10, ""), bytes);
    assert!(
        matches!(tiny, Err(PluginError::Instantiate(CallFailure::OutOfMemory { .. }))),
        "{tiny:?}"
    );
}

#[test]
fn every_builtin_loads_and_exports_the_hook_it_is_for() {
    let engine = support::engine();
    let config = Config::parse(
        std::path::Path::new("inline.toml"),
        r#"
        [[listener]]
        name = "l"
        bind = "127.0.0.1:0"
        plugins = ["forwarded-proto", "https-redirect"]
        default_backend = "b"
        [backend.b]
        servers = [{ name = "s", address = "127.0.0.1:1" }]
        [backend.acme]
        servers = [{ name = "s", address = "127.0.0.1:2" }]
        [plugin.forwarded-proto]
        source = "builtin:forwarded-proto"
        [plugin.https-redirect]
        source = "builtin:https-redirect"
        [plugin.acme-challenge]
        source = "builtin:acme-challenge"
        config = { backend = "acme" }
        "#,
    )
    .unwrap();
    let set = switchyard::plugin::PluginSet::load(&engine, &config).unwrap();
    assert!(set.get("forwarded-proto").unwrap().has_request_hook());
    assert!(set.get("https-redirect").unwrap().has_request_hook());
    assert!(set.get("acme-challenge").unwrap().has_request_hook());
    let rr = set.get("round-robin").expect("implicit default balancer");
    assert!(rr.has_balancer() && !rr.has_request_hook());

    // Declared interests: the host skips a plugin for requests outside them.
    let redirect = set.get("https-redirect").unwrap();
    assert_eq!(redirect.interest().schemes, [Scheme::Http]);
    assert!(view("/any", Scheme::Http).wanted_by(redirect.interest()));
    assert!(!view("/any", Scheme::Https).wanted_by(redirect.interest()));
    let acme = set.get("acme-challenge").unwrap();
    assert_eq!(acme.interest().path_prefixes, ["/.well-known/acme-challenge/"]);
    assert!(acme.interest().matches(Scheme::Https, "/.well-known/acme-challenge/t"));
    assert!(!view("/.well-known/other", Scheme::Http).wanted_by(acme.interest()));
    let forwarded = set.get("forwarded-proto").unwrap();
    assert!(view("/", Scheme::Https).wanted_by(forwarded.interest()));
}
