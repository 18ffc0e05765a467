//! `switchyard run` as an operator runs it: a real process, reloaded by
//! SIGHUP, inspected with `switchyard status`, stopped by SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use switchyard::demo::Origin;

struct Proxy {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proxy {
    fn start(config: &std::path::Path) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["run", "-c"])
            .arg(config)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("switchyard starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("proxy: {line}");
                let _ = tx.send(line);
            }
        });
        Proxy { child, lines }
    }

    /// Waits for a log line containing `marker` and returns the address
    /// logged on it (`address=...`).
    fn address_logged(&self, marker: &str) -> SocketAddr {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .expect("the proxy logs");
            if line.contains(marker) {
                let address = line
                    .split("address=")
                    .nth(1)
                    .expect("an address")
                    .split_whitespace()
                    .next()
                    .unwrap();
                return address.parse().expect("an address");
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn status(admin: SocketAddr) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["status", "--admin", &admin.to_string()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_status_reports_and_sigterm_stops() {
    let any: SocketAddr = support::ANY_PORT.parse().unwrap();
    let web1 = Origin::start("web1", any).await.unwrap();
    let web2 = Origin::start("web2", any).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchyard.toml");
    let text = format!(
        r#"[global]
watch = false

[admin]
bind = "127.0.0.1:0"

[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "one"

[backend.one]
servers = [{{ name = "web1", address = "{}" }}]

[backend.two]
servers = [{{ name = "web2", address = "{}" }}]
"#,
        web1.address(),
        web2.address()
    );
    std::fs::write(&config, &text).unwrap();
    let proxy = Proxy::start(&config);
    let web = proxy.address_logged("listening listener=web");
    let admin = proxy.address_logged("admin endpoint listening");
    let client = support::Client::new("");
    let url = format!("http://{web}/");
    assert_eq!(client.get(&url).await.served_by(), "web1");
    assert!(status(admin).starts_with("generation 1 from"), "{}", status(admin));

    // With watch = false a file change alone does nothing...
    std::fs::write(
        &config,
        text.replace("default_backend = \"one\"", "default_backend = \"two\""),
    )
    .unwrap();
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

    // A broken file on SIGHUP: rejected, shown, the old config serves.
    std::fs::write(&config, "[[listener]]\nname = \"web\"\nbind = 12\n").unwrap();
    proxy.signal("-HUP");
    support::eventually(Duration::from_secs(10), "the rejection is shown", async || {
        status(admin).contains("rejected")
    })
    .await;
    assert_eq!(client.get(&url).await.served_by(), "web2");

    proxy.signal("-TERM");
    let mut child = proxy;
    let exit = tokio::task::spawn_blocking(move || child.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit.code(), Some(0), "SIGTERM is a clean stop");
}
