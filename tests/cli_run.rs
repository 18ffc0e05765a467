//! `switchyard run` as an operator runs it: a real process, reloaded by
//! SIGHUP, inspected with `switchyard status`, stopped by SIGTERM.

mod support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use support::config::{Admin, Backend, Global, Listener, ProxyConfig};
use support::ProxyProcess;

use switchyard::demo::Origin;

/// `switchyard status ARGS`: exit code, stdout, stderr.
fn status_with(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("status")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn status(admin: SocketAddr) -> String {
    let (code, stdout, stderr) = status_with(&["--admin", &admin.to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_status_reports_and_sigterm_stops() {
    let any: SocketAddr = support::ANY_PORT.parse().unwrap();
    let web1 = Origin::start("web1", any).await.unwrap();
    let web2 = Origin::start("web2", any).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut typed = ProxyConfig {
        global: Some(Global {
            watch: Some(false),
            // One worker: the single-threaded scheduler serves, reloads and
            // stops (the other test runs the multi-threaded one).
            workers: Some(1),
            ..Global::default()
        }),
        // A fixed port, so `status -c` can find it from the file.
        admin: Some(Admin {
            bind: {
                let free = std::net::TcpListener::bind(support::ANY_PORT).unwrap();
                free.local_addr().unwrap().to_string()
            },
            token: None,
        }),
        listeners: vec![Listener::plain("web").default_backend("one")],
        ..ProxyConfig::default()
    };
    typed
        .backends
        .insert("one".into(), Backend::of(&[("web1", web1.address())]));
    typed
        .backends
        .insert("two".into(), Backend::of(&[("web2", web2.address())]));
    let config = typed.write(dir.path());
    let proxy = ProxyProcess::start(&config);
    let web = proxy.address_logged("listening listener=web");
    let admin = proxy.address_logged("admin endpoint listening");
    let client = support::Client::new("");
    let url = format!("http://{web}/");
    assert_eq!(client.get(&url).await.served_by(), "web1");
    assert!(status(admin).starts_with("generation 1 from"), "{}", status(admin));

    // With watch = false a file change alone does nothing...
    typed.listener_mut("web").default_backend = Some("two".into());
    typed.write(dir.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.get(&url).await.served_by(), "web1");
    // ...SIGHUP applies it.
    proxy.signal("-HUP");
    support::eventually(Duration::from_secs(10), "SIGHUP reloads", async || {
        client.get(&url).await.served_by() == "web2"
    })
    .await;
    let shown = status(admin);
    assert!(shown.starts_with("generation 2 from"), "{shown}");
    assert!(shown.contains("SIGHUP"), "{shown}");
    assert!(shown.contains(" UTC ("), "a readable time: {shown}");
    // The admin address found from the configuration file.
    let config_arg = config.display().to_string();
    let (code, by_file, stderr) = status_with(&["-c", &config_arg]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(by_file.starts_with("generation 2 from"), "{by_file}");
    // A configuration without [admin]: a hint, not a connection error.
    let bare = dir.path().join("bare.toml");
    let mut no_admin = typed.clone();
    no_admin.admin = None;
    std::fs::write(&bare, no_admin.to_toml()).unwrap();
    let (code, _, stderr) = status_with(&["-c", &bare.display().to_string()]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("has no [admin] section") && stderr.contains("bind = "),
        "{stderr}"
    );

    // A broken file on SIGHUP: rejected, shown, the old config serves.
    std::fs::write(&config, "[[listener]]\nname = \"web\"\nbind = 12\n").unwrap();
    proxy.signal("-HUP");
    support::eventually(Duration::from_secs(10), "the rejection is shown", async || {
        status_with(&["--admin", &admin.to_string()]).1.contains("REJECTED")
    })
    .await;
    let (code, shown, _) = status_with(&["--admin", &admin.to_string()]);
    assert_eq!(
        code,
        Some(3),
        "a rejected last reload exits 3 for deploy scripts: {shown}"
    );
    assert!(shown.contains("generation 2 keeps serving"), "{shown}");
    assert_eq!(client.get(&url).await.served_by(), "web2");

    proxy.signal("-TERM");
    let exit = tokio::task::spawn_blocking(move || proxy.wait()).await.unwrap();
    assert_eq!(exit, Some(0), "SIGTERM is a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_in_flight_requests_and_a_second_sigint_exits_at_once() {
    let origin = Origin::start("web1", support::ANY_PORT.parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchyard.toml");
    std::fs::write(
        &config,
        format!(
            "[global]\nshutdown_grace = \"30s\"\n[[listener]]\nname = \"web\"\nbind = \"127.0.0.1:0\"\ndefault_backend = \"www\"\n\
             [backend.www]\nservers = [{{ name = \"web1\", address = \"{}\" }}]\n",
            origin.address()
        ),
    )
    .unwrap();
    let mut proxy = ProxyProcess::start(&config);
    let web = proxy.address_logged("listening listener=web");
    let client = support::Client::new("");
    let slow = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(
                    http::Request::get(format!("http://{web}/delay/600"))
                        .body(Default::default())
                        .unwrap(),
                )
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.signal("-INT");
    // The in-flight request finishes on the draining process.
    let reply = slow.await.unwrap().expect("the in-flight request completes");
    assert_eq!(reply.status, 200);
    assert_eq!(
        proxy.exits_within(Duration::from_secs(5)),
        Some(Some(0)),
        "drained, then exited"
    );

    let mut proxy = ProxyProcess::start(&config);
    let web = proxy.address_logged("listening listener=web");
    let stuck = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(
                    http::Request::get(format!("http://{web}/delay/20000"))
                        .body(Default::default())
                        .unwrap(),
                )
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    proxy.signal("-INT");
    assert_eq!(
        proxy.exits_within(Duration::from_millis(500)),
        None,
        "still draining the stuck request"
    );
    proxy.signal("-INT");
    assert_eq!(
        proxy.exits_within(Duration::from_secs(2)),
        Some(Some(130)),
        "a second SIGINT exits at once"
    );
    stuck.abort();
}

/// Every request runs in its connection's span and its own: a warning
/// logged while a request is handled names the client, the listener, the
/// request id and the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_name_their_connection_and_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig {
        listeners: vec![Listener::plain("web").default_backend("down")],
        ..ProxyConfig::default()
    };
    // Nothing listens on port 1 of loopback.
    let mut down = Backend::of(&[("nobody", "127.0.0.1:1".parse().unwrap())]);
    down.retries = Some(0);
    config.backends.insert("down".into(), down);
    let proxy = ProxyProcess::start(&config.write(dir.path()));
    let web = proxy.address_logged("listening listener=web");
    let reply = support::Client::new("").get(&format!("http://{web}/")).await;
    assert_eq!(reply.status, 503);
    let id = reply.header("x-request-id").expect("an id").to_string();
    let line = tokio::task::block_in_place(|| proxy.line_containing("no server could answer", Duration::from_secs(10)));
    for part in [
        "connection{client=127.0.0.1:".to_string(),
        "listener=web".to_string(),
        format!("request{{id={id} listener=web backend=down}}"),
    ] {
        assert!(line.contains(&part), "{part:?} in {line}");
    }
}

/// With no client connected, SIGTERM has nothing to drain: the process
/// exits at once (it waited a fixed second, or longer, before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_without_clients_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ProxyConfig {
        listeners: vec![Listener::plain("web").default_backend("www")],
        ..ProxyConfig::default()
    };
    config
        .backends
        .insert("www".into(), Backend::of(&[("a", "127.0.0.1:1".parse().unwrap())]));
    let mut proxy = ProxyProcess::start(&config.write(dir.path()));
    proxy.address_logged("listening listener=web");
    let started = std::time::Instant::now();
    proxy.signal("-TERM");
    let exit = tokio::task::block_in_place(|| proxy.exits_within(Duration::from_secs(5)));
    let took = started.elapsed();
    assert_eq!(exit, Some(Some(0)), "a clean exit");
    assert!(took < Duration::from_millis(500), "exited after {took:?}");
}
