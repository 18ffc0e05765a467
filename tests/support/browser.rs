//! A live headless Chromium, driven over the DevTools protocol: the page
//! stays open and runs its own scripts (refreshing itself) while the test
//! changes the world, and the test reads the DOM as it is now.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium on `url` and attaches to its page.
    pub async fn open(url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                "--no-first-run",
                // No calls home: this machine has no network, and Chromium's
                // refused connections and failed lookups slow its start.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium runs (apt-get install chromium)");
        // Chromium writes the port it chose into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        let port: u16 = loop {
            if let Some(port) = std::fs::read_to_string(&port_file)
                .ok()
                .and_then(|t| t.lines().next()?.trim().parse().ok())
            {
                break port;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromium opened no DevTools port"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let client = super::Client::new("");
        let page = loop {
            let list = client.get(&format!("http://127.0.0.1:{port}/json/list")).await;
            let pages: serde_json::Value = serde_json::from_str(&list.body).unwrap();
            let found = pages.as_array().and_then(|pages| {
                pages
                    .iter()
                    .find(|p| p["type"] == "page" && p["url"].as_str().is_some_and(|u| u.starts_with(url)))
                    .and_then(|p| p["webSocketDebuggerUrl"].as_str().map(str::to_string))
            });
            if let Some(page) = found {
                break page;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no page for {url}: {}",
                list.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(page)
            .await
            .expect("attach to the page");
        Browser {
            child,
            socket,
            next_id: 1,
            _profile: profile,
        }
    }

    /// Evaluates a JavaScript expression in the page; its value as a
    /// string ("" for null or undefined).
    pub async fn evaluate(&mut self, expression: &str) -> String {
        let id = self.next_id;
        self.next_id += 1;
        let command = serde_json::json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": { "expression": expression, "returnByValue": true },
        });
        self.socket.send(Message::text(command.to_string())).await.unwrap();
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("DevTools answers")
                .expect("DevTools socket open")
                .unwrap();
            let Message::Text(text) = message else { continue };
            let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                let value = &reply["result"]["result"]["value"];
                return value.as_str().map_or_else(|| value.to_string(), str::to_string);
            }
        }
    }

    /// Polls `expression` until it yields something `accept` takes.
    pub async fn wait_for(&mut self, expression: &str, limit: Duration, accept: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let value = self.evaluate(expression).await;
            if accept(&value) {
                return value;
            }
            assert!(
                started.elapsed() < limit,
                "{expression}: not as expected within {limit:?}, last {value:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page reloaded? The time its document was created.
    pub async fn time_origin(&mut self) -> String {
        self.evaluate("String(performance.timeOrigin)").await
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
