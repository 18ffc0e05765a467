//! WebSocket through the proxy, with a real implementation on both ends
//! (tokio-tungstenite): echo of text, a 1 MiB binary message, ping/pong and
//! the close handshake; WebSocket from an HTTP/2 client (RFC 8441) reaching
//! an HTTP/1.1 server; a plugin that refuses or routes upgrades; a server
//! that refuses; tunnels' idle timeout and cap; 1,000 sockets kept open
//! through 20 plugin swaps and a configuration reload.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use support::config::{Backend, Global, Listener, Plugin, ProxyConfig};
use support::{fixture, Lab, LabParts, WsEcho};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

type Socket = WebSocketStream<TcpStream>;

/// Listener `web` (plain) and `secure` (TLS), both running the upgrade
/// gate, in front of backend `ws`; chats go to backend `chat`.
fn config(parts: &LabParts, ws: &WsEcho, chat: &WsEcho) -> ProxyConfig {
    let mut config = ProxyConfig {
        listeners: vec![
            Listener::plain("web").plugins(&["gate"]).default_backend("ws"),
            Listener::tls("secure", &parts.combined)
                .plugins(&["gate"])
                .default_backend("ws"),
        ],
        ..ProxyConfig::default()
    };
    config.backends.insert("ws".into(), Backend::of(&[("ws1", ws.address)]));
    config
        .backends
        .insert("chat".into(), Backend::of(&[("chat1", chat.address)]));
    config.plugins.insert(
        "gate".into(),
        Plugin {
            source: fixture("upgrade_gate").display().to_string(),
            ..Plugin::default()
        }
        .set("chat", "chat"),
    );
    config
}

async fn open(lab: &Lab, path: &str) -> Socket {
    let address = lab.addr("web");
    let stream = TcpStream::connect(address).await.unwrap();
    let (socket, response) = tokio_tungstenite::client_async(format!("ws://{address}{path}"), stream)
        .await
        .unwrap_or_else(|e| panic!("WebSocket handshake through the proxy: {e}"));
    assert_eq!(response.status(), 101);
    socket
}

async fn echo<S>(socket: &mut WebSocketStream<S>, message: Message) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    socket.send(message).await.expect("send");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Ok(Some(Ok(Message::Pong(_)))) => continue,
            Ok(Some(Ok(reply))) => return reply,
            other => panic!("no echo: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_binary_ping_and_close_pass_through() {
    let (ws, chat) = (WsEcho::start().await, WsEcho::start().await);
    let lab = Lab::start_with(|parts| config(parts, &ws, &chat)).await;
    let mut socket = open(&lab, "/echo").await;
    assert_eq!(echo(&mut socket, Message::text("hello")).await, Message::text("hello"));
    let big: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        echo(&mut socket, Message::binary(big.clone())).await,
        Message::binary(big)
    );
    socket
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap();
    assert!(
        matches!(pong, Some(Ok(Message::Pong(ref p))) if p.as_ref() == b"are you there"),
        "{pong:?}"
    );
    assert_eq!(ws.open.load(Ordering::SeqCst), 1);
    // The close handshake: our close, the server's answer, then the end.
    socket.close(None).await.unwrap();
    let after = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap();
    assert!(matches!(after, Some(Ok(Message::Close(_))) | None), "{after:?}");
    support::eventually(Duration::from_secs(5), "the server saw the close", async || {
        ws.open.load(Ordering::SeqCst) == 0
    })
    .await;
    // The server got the upgrade with its headers, as HTTP/1.1.
    let (method, path, headers) = ws.handshakes.lock().unwrap()[0].clone();
    assert_eq!((method.as_str(), path.as_str()), ("GET", "/echo"));
    assert!(headers.get("x-forwarded-for").is_some() && headers.get("x-request-id").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_see_upgrades_and_refuse_or_route_them_and_servers_may_refuse() {
    let (ws, chat) = (WsEcho::start().await, WsEcho::start().await);
    let lab = Lab::start_with(|parts| config(parts, &ws, &chat)).await;
    let address = lab.addr("web");
    // Refused by the plugin: a normal 403, nothing forwarded.
    let stream = TcpStream::connect(address).await.unwrap();
    match tokio_tungstenite::client_async(format!("ws://{address}/private/x"), stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            assert_eq!(response.headers()["x-upgrade"], "websocket");
        }
        other => panic!("expected a 403: {other:?}"),
    }
    // Routed by the plugin to the chat backend.
    let mut socket = open(&lab, "/chat/room").await;
    assert_eq!(echo(&mut socket, Message::text("hi")).await, Message::text("hi"));
    assert_eq!(chat.open.load(Ordering::SeqCst), 1);
    assert!(
        ws.handshakes.lock().unwrap().is_empty(),
        "nothing reached the other backend"
    );
    // Refused by the server: its 403 comes back as it is.
    let stream = TcpStream::connect(address).await.unwrap();
    match tokio_tungstenite::client_async(format!("ws://{address}/refuse"), stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected the server's 403: {other:?}"),
    }
    // A plain request: the plugin saw no upgrade.
    let reply = lab.client().get(&lab.url("web", "/plain")).await;
    assert_eq!(reply.header("x-upgrade"), Some("none"));
}

/// An HTTP/2 client's extended CONNECT (RFC 8441), over TLS with ALPN h2,
/// reaches the HTTP/1.1 server as an RFC 6455 upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_from_an_http2_client_reaches_an_http1_server() {
    let (ws, chat) = (WsEcho::start().await, WsEcho::start().await);
    let lab = Lab::start_with(|parts| config(parts, &ws, &chat)).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(support::der_of(
            &lab.certificate.cert_pem,
        )))
        .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(switchyard::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = TcpStream::connect(lab.addr("secure")).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls))
        .connect(rustls::pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let url = format!("https://localhost:{}/echo", lab.addr("secure").port());
    let mut response = None;
    // The server's SETTINGS (which enable extended CONNECT) may not have
    // arrived at the very first moment.
    for _ in 0..50 {
        let mut request = http::Request::connect(&url)
            .header("sec-websocket-version", "13")
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        request
            .extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        match sender.send_request(request).await {
            Ok(r) => {
                response = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let mut response = response.expect("the extended CONNECT is answered");
    assert_eq!(response.status(), 200, "{:?}", response.headers());
    let upgraded = hyper::upgrade::on(&mut response).await.unwrap();
    let mut socket = WebSocketStream::from_raw_socket(hyper_util::rt::TokioIo::new(upgraded), Role::Client, None).await;
    assert_eq!(
        echo(&mut socket, Message::text("over h2")).await,
        Message::text("over h2")
    );
    let (method, path, headers) = ws.handshakes.lock().unwrap()[0].clone();
    assert_eq!((method.as_str(), path.as_str()), ("GET", "/echo"));
    assert_eq!(headers["upgrade"], "websocket");
    assert!(headers.contains_key("sec-websocket-key"), "the proxy made a key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tunnels_close_after_their_idle_timeout_and_the_cap_holds() {
    let (ws, chat) = (WsEcho::start().await, WsEcho::start().await);
    let lab = Lab::start_with(|parts| {
        let mut config = config(parts, &ws, &chat);
        config.backend_mut("ws").tunnel_idle_timeout = Some("300ms".into());
        config.global = Some(Global {
            max_tunnels: Some(2),
            ..Global::default()
        });
        config
    })
    .await;
    let mut first = open(&lab, "/echo").await;
    let _second = open(&lab, "/echo").await;
    // A third is over max_tunnels: 503 before anything is forwarded.
    let address = lab.addr("web");
    let stream = TcpStream::connect(address).await.unwrap();
    match tokio_tungstenite::client_async(format!("ws://{address}/echo"), stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503 past max_tunnels: {other:?}"),
    }
    assert_eq!(ws.handshakes.lock().unwrap().len(), 2);
    // Talking keeps a tunnel open past its idle timeout...
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            echo(&mut first, Message::text("still here")).await,
            Message::text("still here")
        );
    }
    // ...silence closes it.
    let started = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(5), first.next())
        .await
        .unwrap();
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "closed after the idle timeout"
    );
    support::eventually(Duration::from_secs(5), "both idle tunnels closed", async || {
        lab.proxy.proxy().tunnels().open() == 0
    })
    .await;
    // With room again, a new one opens.
    let mut third = open(&lab, "/echo").await;
    assert_eq!(echo(&mut third, Message::text("again")).await, Message::text("again"));
}

/// 1,000 sockets stay open, and every one still echoes, while the plugin
/// file is swapped 20 times and the configuration reloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sockets_survive_plugin_swaps_and_a_reload() {
    let (ws, chat) = (WsEcho::start().await, WsEcho::start().await);
    let dir = tempfile::tempdir().unwrap();
    let tag = dir.path().join("tag.wasm");
    let version = |v: &str| std::fs::read(fixture(&format!("tag_{v}"))).unwrap();
    std::fs::write(&tag, version("a")).unwrap();
    let mut lab = Lab::start_with(|parts| {
        let mut config = config(parts, &ws, &chat);
        config.listener_mut("web").plugins = vec!["gate".into(), "tag".into()];
        config.plugins.insert(
            "tag".into(),
            Plugin {
                source: tag.display().to_string(),
                ..Plugin::default()
            },
        );
        config
    })
    .await;
    let mut sockets = Vec::new();
    for i in 0..1_000 {
        let mut socket = open(&lab, &format!("/echo/{i}")).await;
        if i % 100 == 0 {
            assert_eq!(echo(&mut socket, Message::text("first")).await, Message::text("first"));
        }
        sockets.push(socket);
    }
    assert_eq!(lab.proxy.proxy().tunnels().open(), 1_000);
    let before = lab.proxy.reloader().status().generation;
    for swap in 0..20 {
        support::replace_file(&tag, &version(if swap % 2 == 0 { "b" } else { "a" }));
        let expected = before + swap + 1;
        support::eventually(Duration::from_secs(10), "the swap is published", async || {
            lab.proxy.reloader().status().generation >= expected
        })
        .await;
    }
    lab.rewrite(|config| config.backend_mut("ws").tunnel_idle_timeout = Some("10m".into()));
    support::eventually(Duration::from_secs(10), "the reload is published", async || {
        lab.proxy.reloader().status().generation >= before + 21
    })
    .await;
    assert_eq!(ws.open.load(Ordering::SeqCst), 1_000, "none closed at the server");
    for (i, socket) in sockets.iter_mut().enumerate() {
        let text = format!("after {i}");
        assert_eq!(echo(socket, Message::text(text.clone())).await, Message::text(text));
    }
    assert_eq!(lab.proxy.proxy().tunnels().open(), 1_000);
}

/// On shutdown a tunnel keeps working through the grace period, then is
/// closed at its end; the admin API shows it while it is open, the metrics
/// count why it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnels_last_until_the_end_of_the_grace_period() {
    let (ws, chat) = (WsEcho::start().await, WsEcho::start().await);
    let lab = Lab::start_with(|parts| {
        let mut config = config(parts, &ws, &chat);
        config.global = Some(Global {
            shutdown_grace: Some("800ms".into()),
            ..Global::default()
        });
        config.admin = Some(support::config::Admin {
            bind: support::ANY_PORT.into(),
            token: None,
        });
        config
    })
    .await;
    let mut socket = open(&lab, "/echo").await;
    let admin = lab.proxy.admin_addr().expect("admin");
    let state = lab.client().get(&format!("http://{admin}/api/state")).await;
    let state: serde_json::Value = serde_json::from_str(&state.body).unwrap();
    assert_eq!(state["tunnels_open"], 1, "{state}");
    let shutdowns = || {
        let exposition = switchyard::metrics::metrics().encode();
        exposition
            .lines()
            .find_map(|l| l.strip_prefix(r#"switchyard_tunnels_closed_total{reason="shutdown"} "#))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let closed_before = shutdowns();
    let Lab { proxy, .. } = lab;
    let started = Instant::now();
    let stopping = tokio::spawn(proxy.shutdown());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        echo(&mut socket, Message::text("during the grace period")).await,
        Message::text("during the grace period")
    );
    let end = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap();
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
    let closed_after = started.elapsed();
    assert!(
        closed_after >= Duration::from_millis(700),
        "not closed before the grace period ended: {closed_after:?}"
    );
    stopping.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(shutdowns(), closed_before + 1.0);
}
