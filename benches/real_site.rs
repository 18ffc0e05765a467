//! `real_site`: what fronting a modern site costs, measured side by side in
//! one run (a bench binary: each figure is a loop over real sockets).
//!
//! - WebSocket: echo round trips (tokio-tungstenite on both ends), one
//!   socket sequentially and 32 sockets at once, through Switchyard and
//!   directly: messages per second and p99 round trip, as a ratio.
//! - gRPC unary calls per second through Switchyard (h2c listener to an h2c
//!   backend) and directly, with Debian's python3-grpcio on both ends
//!   (`tests/grpc/`): the client is the same both ways, so the ratio is the
//!   proxy's share.
//!
//! Run: `cargo bench --bench real_site` (MESSAGES=N, CALLS=N to change the
//! counts).

use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use switchyard::config::Config;
use switchyard::plugin::PluginEngine;
use switchyard::running::RunningProxy;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn ws_echo_server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

async fn proxy(config: &str) -> RunningProxy {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, config).unwrap();
    let config = Config::load(&path).unwrap();
    let proxy = RunningProxy::start(config, PluginEngine::new().unwrap()).await.unwrap();
    std::mem::forget(dir);
    proxy
}

/// Round trips of `messages` echoes on each of `sockets` sockets at once:
/// messages per second, and the p50 and p99 round trips.
async fn ws_run(address: SocketAddr, sockets: usize, messages: usize) -> (f64, Duration, Duration) {
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..sockets {
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(address).await.unwrap();
            let (mut socket, _) = tokio_tungstenite::client_async(format!("ws://{address}/bench"), stream)
                .await
                .unwrap();
            let mut times = Vec::with_capacity(messages);
            for i in 0..messages {
                let sent = Instant::now();
                socket.send(Message::text(format!("message {i}"))).await.unwrap();
                let _ = socket.next().await.unwrap().unwrap();
                times.push(sent.elapsed());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    (times.len() as f64 / elapsed.as_secs_f64(), at(0.5), at(0.99))
}

fn grpc_server() -> (std::process::Child, SocketAddr) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3-grpcio");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().trim_start_matches("listening ").parse().unwrap();
    (child, SocketAddr::from(([127, 0, 0, 1], port)))
}

fn grpc_calls_per_second(target: SocketAddr, calls: usize) -> f64 {
    let program = format!(
        "import grpc, time\n\
         channel = grpc.insecure_channel('{target}')\n\
         call = channel.unary_unary('/test.Echo/Unary', lambda b: b, lambda b: b)\n\
         call(b'warm', timeout=10)\n\
         started = time.perf_counter()\n\
         for _ in range({calls}):\n    call(b'hello', timeout=10)\n\
         print({calls} / (time.perf_counter() - started))\n"
    );
    let output = Command::new("/usr/bin/python3")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().unwrap()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let messages = count("MESSAGES", 20_000);
        let echo = ws_echo_server().await;
        let (grpc, grpc_address) = grpc_server();
        let config = format!(
            r#"[global]
workers = 1
[[listener]]
name = "web"
bind = "127.0.0.1:0"
default_backend = "ws"
[[listener]]
name = "grpc"
bind = "127.0.0.1:0"
default_backend = "grpc"
[backend.ws]
servers = [{{ name = "ws1", address = "{echo}" }}]
[backend.grpc]
protocol = "h2c"
servers = [{{ name = "grpc1", address = "{grpc_address}" }}]
"#
        );
        let proxy = Arc::new(proxy(&config).await);
        let through = proxy.local_addr("web").unwrap();
        println!(
            "WebSocket echo, {messages} round trips on one socket, then {} on 32 sockets at once:",
            messages / 32 * 32
        );
        for (name, sockets, per) in [("1 socket", 1, messages), ("32 sockets", 32, messages / 32)] {
            let (direct_rate, direct_p50, direct_p99) = ws_run(echo, sockets, per).await;
            let (proxied_rate, proxied_p50, proxied_p99) = ws_run(through, sockets, per).await;
            println!(
                "  {name}: direct {direct_rate:.0} msg/s (p50 {direct_p50:?}, p99 {direct_p99:?}); \
                 through Switchyard {proxied_rate:.0} msg/s (p50 {proxied_p50:?}, p99 {proxied_p99:?}); \
                 ratio {:.2}x, p99 {:.2}x",
                proxied_rate / direct_rate,
                proxied_p99.as_secs_f64() / direct_p99.as_secs_f64()
            );
        }
        let calls = count("CALLS", 3_000);
        let grpc_through = proxy.local_addr("grpc").unwrap();
        let direct = tokio::task::spawn_blocking(move || grpc_calls_per_second(grpc_address, calls))
            .await
            .unwrap();
        let proxied = tokio::task::spawn_blocking(move || grpc_calls_per_second(grpc_through, calls))
            .await
            .unwrap();
        println!(
            "gRPC unary, {calls} sequential calls (python3-grpcio both ends): direct {direct:.0}/s, \
             through Switchyard {proxied:.0}/s, ratio {:.2}x",
            proxied / direct
        );
        let mut grpc = grpc;
        let _ = grpc.kill();
        tokio::time::sleep(Duration::from_millis(10)).await;
    });
}
