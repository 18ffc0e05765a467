//! Faults a real network throws, between the proxy and its servers (a
//! relay that delays, drips, cuts or swallows; an address that never
//! completes a connect) and from clients that break HTTP/2's rules: each
//! setting that promises a bound is held to it.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use support::config::{table, Admin, Backend, Global, Listener, ProxyConfig};
use support::h2raw::{self, RawH2};
use support::{Fault, FixedStatus, Lab, Relay, Unreachable};
use switchyard::demo::Origin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn origin(name: &str) -> Origin {
    Origin::start(name, support::ANY_PORT.parse().unwrap()).await.unwrap()
}

/// One plain listener "web" in front of backend "app" of these servers.
fn config(servers: &[(&str, SocketAddr)], change: impl FnOnce(&mut Backend)) -> ProxyConfig {
    let mut backend = Backend::of(servers);
    change(&mut backend);
    let mut config = ProxyConfig {
        listeners: vec![Listener::plain("web").default_backend("app")],
        ..ProxyConfig::default()
    };
    config.backends.insert("app".into(), backend);
    config
}

fn post(url: &str, body: Vec<u8>) -> http::Request<Full<Bytes>> {
    http::Request::post(url).body(Full::new(Bytes::from(body))).unwrap()
}

/// A connect that never completes costs `connect_timeout`, then the next
/// server answers; with no other server the client gets a prompt error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_bounds_a_connect_that_never_completes() {
    let hole = Unreachable::start();
    let app2 = origin("app2").await;
    let lab = Lab::start_with(|_| {
        config(&[("hole", hole.address), ("app2", app2.address())], |b| {
            b.connect_timeout = Some("300ms".into());
            b.retries = Some(1);
            // Kept in rotation, so round robin tries it every other time.
            b.passive_health = Some(table([("failures", 0.into())]));
        })
    })
    .await;
    let client = lab.client();
    let mut slow = 0;
    for _ in 0..4 {
        let started = Instant::now();
        let reply = client.get(&lab.url("web", "/")).await;
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.served_by(), "app2");
        assert!(
            took < Duration::from_millis(1500),
            "never the kernel's SYN retries: {took:?}"
        );
        if took >= Duration::from_millis(280) {
            slow += 1;
        }
    }
    assert!(slow >= 2, "requests waited for the connect timeout first: {slow} of 4");
}

/// The same black hole alone: 502 or 503 after about `connect_timeout`,
/// not after the kernel's SYN retries (over a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_only_a_black_hole_the_client_hears_after_connect_timeout() {
    let hole = Unreachable::start();
    let lab = Lab::start_with(|_| {
        config(&[("hole", hole.address)], |b| {
            b.connect_timeout = Some("200ms".into());
            b.retries = Some(0);
        })
    })
    .await;
    let started = Instant::now();
    let reply = lab.client().get(&lab.url("web", "/")).await;
    let took = started.elapsed();
    assert!(reply.status.is_server_error(), "{}: {}", reply.status, reply.body);
    assert!(
        took >= Duration::from_millis(180) && took < Duration::from_millis(1000),
        "{took:?}"
    );
}

/// A pooled connection unused for `idle_timeout` is closed: the next
/// request opens a new one; one used within it is reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pooled_connections_are_retired_after_idle_timeout() {
    let app = origin("app1").await;
    let relay = Relay::start(app.address(), Fault::Pass).await;
    let lab = Lab::start_with(|_| config(&[("app1", relay.address)], |b| b.idle_timeout = Some("400ms".into()))).await;
    let client = lab.client();
    for _ in 0..3 {
        assert_eq!(client.get(&lab.url("web", "/")).await.status, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        relay.connections.load(Ordering::SeqCst),
        1,
        "reused within the idle timeout"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(client.get(&lab.url("web", "/")).await.status, 200);
    assert_eq!(
        relay.connections.load(Ordering::SeqCst),
        2,
        "a new connection after the idle timeout"
    );
}

/// A server that answers one request per connection, keep-alive in its
/// head, and closes the connection 100 ms later: the proxy's pooled
/// connection then ends while idle. Its body says how many body bytes the
/// request had.
async fn closing_when_idle() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let server = tokio::net::TcpListener::bind(support::ANY_PORT).await.unwrap();
    let address = server.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = server.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 16384];
                let Ok(Some(head_end)) = read_head(&mut stream, &mut seen).await else {
                    return;
                };
                let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while seen.len() < head_end + length {
                    let Ok(n @ 1..) = stream.read(&mut buf).await else {
                        return;
                    };
                    seen.extend_from_slice(&buf[..n]);
                }
                let body = format!("got {}", seen.len() - head_end);
                let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                let _ = stream.write_all(answer.as_bytes()).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            });
        }
    });
    (address, accepted)
}

/// A pooled connection the server closed while it sat idle costs no
/// request: the next one, a POST with its body, goes on a new connection
/// whole (the closed connection is passed over at checkout, or hands back
/// the request it could not send), even with retries off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_connection_closed_while_idle_costs_no_request() {
    let (address, accepted) = closing_when_idle().await;
    let lab = Lab::start_with(|_| {
        config(&[("closer", address)], |b| {
            b.retries = Some(0);
            b.idle_timeout = Some("60s".into());
            b.passive_health = Some(table([("failures", 0.into())]));
        })
    })
    .await;
    let client = lab.client();
    for round in 0..3 {
        let reply = client
            .send(post(&lab.url("web", "/upload"), vec![7; 10_000]))
            .await
            .unwrap();
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, "got 10000"),
            "round {round}"
        );
        // The server closes its side meanwhile.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "each request found its connection closed"
    );
}

/// The server's answer dies after 50 kB of 200 kB: the client sees a
/// broken body (an error), never a short body passed as complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_mid_body_reaches_the_client_as_broken() {
    let app = origin("app1").await;
    let relay = Relay::start(app.address(), Fault::CutAfter(50_000)).await;
    let lab = Lab::start_with(|_| config(&[("app1", relay.address)], |b| b.retries = Some(0))).await;
    let result = lab
        .client()
        .send(
            http::Request::get(lab.url("web", "/bytes/200000"))
                .body(Full::default())
                .unwrap(),
        )
        .await;
    match result {
        Err(error) => assert!(error.starts_with("body"), "the head came, the body broke: {error}"),
        Ok(reply) => panic!("a cut body was passed as complete: {} bytes", reply.body.len()),
    }
    // And on a raw connection: fewer bytes than the head announced, then
    // the connection closes (it is not kept alive as if complete).
    let (status, text) = support::raw_exchange(
        lab.addr("web"),
        b"GET /bytes/200000 HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, Some(200));
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.len()).unwrap_or(0);
    assert!(body < 200_000, "short: {body}");
}

/// A chunked answer cut mid-stream: the client's body is broken, it never
/// gets the last chunk that would make it complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_response_cut_mid_stream_reaches_the_client_as_broken() {
    let server = tokio::net::TcpListener::bind(support::ANY_PORT).await.unwrap();
    let address = server.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = server.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = stream.read(&mut buf).await;
                let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..20 {
                    answer.extend_from_slice(b"400\r\n");
                    answer.extend_from_slice(&[b'x'; 0x400]);
                    answer.extend_from_slice(b"\r\n");
                }
                let _ = stream.write_all(&answer).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            });
        }
    });
    let lab = Lab::start_with(|_| config(&[("chunky", address)], |b| b.retries = Some(0))).await;
    let result = lab
        .client()
        .send(http::Request::get(lab.url("web", "/")).body(Full::default()).unwrap())
        .await;
    match result {
        Err(error) => assert!(error.starts_with("body"), "{error}"),
        Ok(reply) => panic!("a cut chunked body was passed as complete: {} bytes", reply.body.len()),
    }
    let (_, text) = support::raw_exchange(
        lab.addr("web"),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(
        text.contains("transfer-encoding: chunked"),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(!text.ends_with("0\r\n\r\n"), "no last chunk after a cut");
}

/// A POST that reached a server which then closed without answering is
/// not sent again to another server: the client gets an error, each POST
/// was received once. GETs in the same situation are replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_once_sent_is_never_replayed() {
    let app1 = origin("app1").await;
    let app2 = origin("app2").await;
    let swallow = Relay::start(app1.address(), Fault::CloseAfterRequest).await;
    let good = Relay::start(app2.address(), Fault::Pass).await;
    let lab = Lab::start_with(|_| {
        config(&[("swallow", swallow.address), ("good", good.address)], |b| {
            b.retries = Some(2);
            b.passive_health = Some(table([("failures", 0.into())]));
        })
    })
    .await;
    let client = lab.client();
    let (mut failed, mut served) = (0, 0);
    for i in 0..10 {
        match client
            .send(post(&lab.url("web", "/order"), format!("order {i}").into_bytes()))
            .await
        {
            Ok(reply) if reply.status == 200 => {
                assert_eq!(reply.served_by(), "app2");
                served += 1;
            }
            Ok(_) | Err(_) => failed += 1,
        }
    }
    let at_swallow = swallow.requests_with("POST");
    assert!(
        at_swallow >= 3,
        "round robin sent POSTs to the failing server: {at_swallow}"
    );
    assert_eq!(failed, at_swallow, "every POST that reached it failed, none moved");
    assert_eq!(
        good.requests_with("POST"),
        served,
        "the good server got only its own POSTs"
    );
    assert_eq!(at_swallow + good.requests_with("POST"), 10, "each POST was sent once");
    // GET is replayed: every one is served, with its whole head (the
    // proxy keeps it across the attempt that failed).
    for i in 0..6 {
        let request = http::Request::get(lab.url("web", "/"))
            .header("x-trace", format!("t{i}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let reply = client.send(request).await.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.received("x-trace"), [format!("t{i}")], "{}", reply.body);
        assert_eq!(reply.received("x-forwarded-for").len(), 1, "{}", reply.body);
    }
    assert!(
        swallow.requests_with("GET") >= 2,
        "GETs reached the failing server and were replayed"
    );
}

/// A 1 MiB POST whose first server never completed the connect is sent
/// whole to the next one: the body's SHA-256 as the server computed it
/// matches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_moved_by_a_failed_connect_arrives_intact() {
    let hole = Unreachable::start();
    let app2 = origin("app2").await;
    let lab = Lab::start_with(|_| {
        config(&[("hole", hole.address), ("app2", app2.address())], |b| {
            b.connect_timeout = Some("200ms".into());
            b.retries = Some(1);
            b.passive_health = Some(table([("failures", 0.into())]));
        })
    })
    .await;
    let body: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let expected = switchyard::content_hash::ContentHash::of(&body).to_string();
    let client = lab.client();
    let mut moved = 0;
    for _ in 0..4 {
        let started = Instant::now();
        let reply = client
            .send(post(&lab.url("web", "/upload"), body.clone()))
            .await
            .unwrap();
        if started.elapsed() >= Duration::from_millis(180) {
            moved += 1;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.served_by(), "app2");
        assert_eq!(reply.received("body-bytes"), vec![(1u32 << 20).to_string()]);
        assert_eq!(reply.received("body-sha256"), vec![expected.clone()]);
    }
    assert!(moved >= 2, "POSTs were moved after the failed connect: {moved} of 4");
}

/// With `on_5xx`, a server answering 500 is taken out after `failures`
/// of them, for `cooldown`, then tried again; without it, 500s are
/// answers and the server stays in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_on_5xx_takes_a_failing_server_out_for_the_cooldown() {
    let broken = FixedStatus::start("broken", 500).await;
    let app2 = origin("app2").await;
    let lab = Lab::start_with(|_| {
        config(&[("broken", broken.address), ("app2", app2.address())], |b| {
            b.retries = Some(0);
            b.passive_health = Some(table([
                ("failures", 2.into()),
                ("on_5xx", true.into()),
                ("cooldown", "1s".into()),
            ]));
        })
    })
    .await;
    let client = lab.client();
    let mut fives = 0;
    for _ in 0..6 {
        if client.get(&lab.url("web", "/")).await.status == 500 {
            fives += 1;
        }
    }
    assert_eq!(fives, 2, "two 500s, then the server is out");
    assert!(!lab.server_healthy("app", "broken"));
    let out_since = Instant::now();
    for _ in 0..20 {
        assert_eq!(client.get(&lab.url("web", "/")).await.served_by(), "app2");
    }
    assert_eq!(
        broken.requests.load(Ordering::SeqCst),
        2,
        "nothing reached it while out"
    );
    // After the cooldown it is tried again.
    let back = lab.wait_for_health("app", "broken", true, Duration::from_secs(5)).await;
    let out_for = out_since.elapsed();
    assert!(
        out_for >= Duration::from_millis(800),
        "out for the cooldown: {out_for:?} ({back:?})"
    );
    let mut seen_again = false;
    for _ in 0..4 {
        seen_again |= client.get(&lab.url("web", "/")).await.status == 500;
    }
    assert!(seen_again, "tried again after the cooldown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_on_5xx_a_server_answering_500_stays_in() {
    let broken = FixedStatus::start("broken", 500).await;
    let app2 = origin("app2").await;
    let lab = Lab::start_with(|_| {
        config(&[("broken", broken.address), ("app2", app2.address())], |b| {
            b.passive_health = Some(table([("failures", 2.into()), ("cooldown", "10s".into())]));
        })
    })
    .await;
    let client = lab.client();
    let mut fives = 0;
    for _ in 0..10 {
        if client.get(&lab.url("web", "/")).await.status == 500 {
            fives += 1;
        }
    }
    assert_eq!(fives, 5, "round robin, every other answer is its 500");
    assert!(lab.server_healthy("app", "broken"));
}

/// `global.max_connections` counts every listener's connections: with 2
/// open on one listener, a client of the other waits until one leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_connection_limit_spans_listeners() {
    let app = origin("app1").await;
    let lab = Lab::start_with(|_| {
        let mut config = config(&[("app1", app.address())], |_| {});
        config.listeners.push(Listener::plain("other").default_backend("app"));
        config.global = Some(Global {
            max_connections: Some(2),
            ..Global::default()
        });
        config
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(lab.addr("web")).await.unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let other = lab.addr("other");
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let (status, _) = support::raw_exchange(
            other,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        (status, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    if waiting.is_finished() {
        panic!(
            "the other listener's client waits at the global limit: {:?}",
            waiting.await
        );
    }
    drop(held.pop());
    let (status, took) = waiting.await.unwrap();
    assert_eq!(status, Some(200));
    assert!(took >= Duration::from_millis(450), "{took:?}");
}

/// A client that ignores SETTINGS_MAX_CONCURRENT_STREAMS gets its extra
/// streams refused (RST_STREAM REFUSED_STREAM); only the allowed number
/// reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_past_the_limit_are_refused() {
    let app = origin("app1").await;
    let lab = Lab::start_with(|_| {
        let mut config = config(&[("app1", app.address())], |_| {});
        config.listener_mut("web").h2_max_streams = Some(3);
        config
    })
    .await;
    let mut h2 = RawH2::connect(lab.addr("web")).await;
    let mut burst = Vec::new();
    for i in 0..8u32 {
        burst.extend(h2raw::request(1 + 2 * i, "GET", "/delay/400", &[], true));
    }
    h2.send(&burst).await;
    let frames = h2.read_all(Duration::from_millis(1500)).await;
    let refused: Vec<u32> = frames
        .iter()
        .filter(|f| f.kind == h2raw::RST_STREAM && f.error_code() == Some(h2raw::REFUSED_STREAM))
        .map(|f| f.stream)
        .collect();
    let mut answered: Vec<u32> = frames
        .iter()
        .filter(|f| f.kind == h2raw::HEADERS)
        .map(|f| f.stream)
        .collect();
    answered.sort_unstable();
    assert_eq!(refused.len(), 5, "five streams over the limit refused: {frames:?}");
    assert_eq!(answered, vec![1, 3, 5], "the first three answered");
    assert_eq!(app.hits(), 3, "only three reached the server");
}

/// The rapid-reset flood (CVE-2023-44487): streams opened and reset at
/// once, by the thousand. The connection is closed with GOAWAY
/// ENHANCE_YOUR_CALM long before the flood ends, and few requests reach
/// the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_is_cut_off_with_goaway() {
    let app = origin("app1").await;
    let lab = Lab::start_with(|_| config(&[("app1", app.address())], |_| {})).await;
    let mut h2 = RawH2::connect(lab.addr("web")).await;
    let mut flood = Vec::new();
    for i in 0..2000u32 {
        let stream = 1 + 2 * i;
        flood.extend(h2raw::request(stream, "GET", "/delay/200", &[], true));
        flood.extend(h2raw::reset(stream, h2raw::CANCEL));
    }
    // The server may close before all of it is written.
    let _ = tokio::time::timeout(Duration::from_secs(5), h2.try_send(&flood)).await;
    let frames = h2.read_all(Duration::from_secs(2)).await;
    let goaway = frames.iter().find(|f| f.kind == h2raw::GOAWAY);
    assert_eq!(
        goaway.and_then(|f| f.error_code()),
        Some(h2raw::ENHANCE_YOUR_CALM),
        "GOAWAY ENHANCE_YOUR_CALM: {:?}",
        frames.iter().map(|f| (f.kind, f.error_code())).collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.hits() < 200, "few of 2000 reached the server: {}", app.hits());
}

/// Shutdown: an open HTTP/2 connection gets GOAWAY, an HTTP/1.1 request
/// in flight finishes with `Connection: close` and its connection closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_goaway_and_connection_close() {
    let app = origin("app1").await;
    let lab = Lab::start_with(|_| config(&[("app1", app.address())], |_| {})).await;
    let mut h2 = RawH2::connect(lab.addr("web")).await;
    h2.send(&h2raw::request(1, "GET", "/", &[], true)).await;
    let mut h1 = TcpStream::connect(lab.addr("web")).await.unwrap();
    h1.write_all(b"GET /delay/600 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    lab.proxy.shutdown_token().cancel();
    let frames = h2.read_all(Duration::from_secs(3)).await;
    assert!(
        frames.iter().any(|f| f.kind == h2raw::GOAWAY),
        "GOAWAY on shutdown: {:?}",
        frames.iter().map(|f| f.kind).collect::<Vec<_>>()
    );
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), h1.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the HTTP/1.1 connection closed after its answer");
    let text = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(
        text.starts_with("http/1.1 200"),
        "the request in flight finished: {text}"
    );
    assert!(text.contains("connection: close"), "{text}");
}

/// `POST /reload` on the admin endpoint applies the file as it is now (the
/// watcher off), and a broken file is refused with its line while the
/// running configuration keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_post_reload_applies_the_file_or_names_its_problem() {
    let mut lab = Lab::start_with(|parts| {
        let mut config = config(&[("web1", parts.web1)], |_| {});
        config.global = Some(Global {
            watch: Some(false),
            ..Global::default()
        });
        config.admin = Some(Admin {
            bind: support::ANY_PORT.into(),
            token: None,
        });
        config
    })
    .await;
    let client = lab.client();
    let admin = format!("http://{}/reload", lab.proxy.admin_addr().unwrap());
    let web2 = lab.web_addresses[1];
    lab.rewrite(|c| c.backend_mut("app").servers = Backend::of(&[("web2", web2)]).servers);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        client.get(&lab.url("web", "/")).await.served_by(),
        "web1",
        "no watcher: unchanged"
    );
    let reply = client.send(post(&admin, Vec::new())).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.starts_with("generation "), "{}", reply.body);
    assert_eq!(client.get(&lab.url("web", "/")).await.served_by(), "web2");
    std::fs::write(&lab.config_path, "[[listener]]\nname = \"web\"\nbind = 7\n").unwrap();
    let reply = client.send(post(&admin, Vec::new())).await.unwrap();
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.body.contains("switchyard.toml:3"),
        "names the line: {}",
        reply.body
    );
    assert_eq!(
        client.get(&lab.url("web", "/")).await.served_by(),
        "web2",
        "the last good one serves"
    );
}

/// A server whose answer starts too late: 504 after `response_timeout`,
/// and the late server is not waited for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_costs_response_timeout() {
    let app = origin("app1").await;
    let relay = Relay::start(app.address(), Fault::Delay(Duration::from_secs(3))).await;
    let lab = Lab::start_with(|_| {
        config(&[("app1", relay.address)], |b| {
            b.response_timeout = Some("300ms".into());
            b.retries = Some(0);
        })
    })
    .await;
    let started = Instant::now();
    let reply = lab.client().get(&lab.url("web", "/")).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 504, "{}", reply.body);
    assert!(
        took >= Duration::from_millis(280) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

/// A body that drips in slowly is streamed, not cut: `response_timeout`
/// bounds the wait for the head only. 20 kB at 1 kB per 40 ms (about
/// 0.8 s, over a 300 ms response timeout) arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowly_dripping_body_arrives_whole() {
    let app = origin("app1").await;
    let relay = Relay::start(
        app.address(),
        Fault::Drip {
            bytes: 1000,
            every: Duration::from_millis(40),
        },
    )
    .await;
    let lab = Lab::start_with(|_| {
        config(&[("app1", relay.address)], |b| {
            b.response_timeout = Some("300ms".into())
        })
    })
    .await;
    let started = Instant::now();
    let reply = lab.client().get(&lab.url("web", "/bytes/20000")).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 20_000);
    assert!(took >= Duration::from_millis(600), "it really dripped: {took:?}");
}

/// A server that takes a request and never answers: 504 after
/// `response_timeout`, and the request is not sent to another server
/// (not even a GET: a timed-out request may be running there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_server_that_never_answers_times_out_and_is_not_replayed() {
    let app1 = origin("app1").await;
    let app2 = origin("app2").await;
    let silent = Relay::start(app1.address(), Fault::NeverAnswer).await;
    let good = Relay::start(app2.address(), Fault::Pass).await;
    let lab = Lab::start_with(|_| {
        config(&[("silent", silent.address), ("good", good.address)], |b| {
            b.response_timeout = Some("300ms".into());
            b.retries = Some(2);
            b.passive_health = Some(table([("failures", 0.into())]));
        })
    })
    .await;
    let client = lab.client();
    let mut timed_out = 0;
    for i in 0..6 {
        let request = if i % 2 == 0 {
            post(&lab.url("web", "/order"), b"once".to_vec())
        } else {
            http::Request::get(lab.url("web", "/")).body(Full::default()).unwrap()
        };
        let started = Instant::now();
        let reply = client.send(request).await.unwrap();
        if reply.status == 504 {
            timed_out += 1;
            assert!(
                started.elapsed() < Duration::from_millis(1500),
                "{:?}",
                started.elapsed()
            );
        } else {
            assert_eq!(reply.status, 200);
        }
    }
    let at_silent = silent.requests_with("POST") + silent.requests_with("GET");
    assert!(at_silent >= 2, "round robin reached the silent server: {at_silent}");
    assert_eq!(timed_out, at_silent, "each request it swallowed timed out, none moved");
    assert_eq!(
        good.requests_with("POST") + good.requests_with("GET"),
        6 - at_silent,
        "the good server got only its own"
    );
}

/// Reads from `stream` until `seen` holds a whole request head: where it
/// ends, `Ok(None)` if the peer closed first.
async fn read_head(stream: &mut TcpStream, seen: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    let mut buf = [0u8; 16384];
    loop {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(at + 4));
        }
        match stream.read(&mut buf).await? {
            0 => return Ok(None),
            n => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// A server that answers `POST /upload` with 413 as soon as it has the
/// head, reading none of the body and keeping the connection open, and
/// answers anything else with 200 "ok", keep-alive. Counts connections.
async fn answering_early() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 << 10];
                let mut seen = Vec::new();
                loop {
                    let Ok(Some(head_end)) = read_head(&mut stream, &mut seen).await else {
                        return;
                    };
                    if seen.starts_with(b"POST /upload ") {
                        let _ = stream
                            .write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!")
                            .await;
                        // The body is never read as such: whatever follows
                        // on this connection is swallowed.
                        while let Ok(1..) = stream.read(&mut buf).await {}
                        return;
                    }
                    seen.drain(..head_end);
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await;
                }
            });
        }
    });
    (address, accepted)
}

/// A server that answers before the request's body has all been sent is
/// heard at once (the client gets its 413 while still owing most of the
/// body), and its connection, which still expects the rest of the body, is
/// never given to another request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_before_the_body_ends_is_passed_on_and_its_connection_not_reused() {
    let (address, accepted) = answering_early().await;
    let lab = Lab::start_with(|_| config(&[("early", address)], |b| b.retries = Some(0))).await;
    let mut stream = TcpStream::connect(lab.addr("web")).await.unwrap();
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    stream.write_all(&[7u8; 1000]).await.unwrap();
    // 99,000 bytes of the body are still owed when the answer comes.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !answer.windows(8).any(|w| w == b"too big!") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "no answer while the body was owed: {answer:?}");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    let client = lab.client();
    for round in 0..3 {
        let reply = client
            .send(
                http::Request::get(lab.url("web", "/small"))
                    .body(Full::default())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            (reply.status.as_u16(), reply.body.as_str()),
            (200, "ok"),
            "round {round}"
        );
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "one connection for the upload, which was not reused, and one kept alive for the rest"
    );
}

/// A keep-alive server that answers every request with 200 "ok" and counts
/// the connections the proxy closed.
async fn counting_closes() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let closed = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&closed);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    match read_head(&mut stream, &mut seen).await {
                        Ok(Some(head_end)) => {
                            seen.drain(..head_end);
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if stream.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => {
                            count.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        Err(_) => return,
                    }
                }
            });
        }
    });
    (address, closed)
}

/// An idle pooled connection is closed once it has been unused for
/// `idle_timeout`, even when no request comes after it (nobody polls an
/// idle connection: the proxy sweeps the pools every second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_idle_timeout_without_further_traffic() {
    let (address, closed) = counting_closes().await;
    let lab = Lab::start_with(|_| config(&[("idle", address)], |b| b.idle_timeout = Some("300ms".into()))).await;
    let reply = lab
        .client()
        .send(http::Request::get(lab.url("web", "/")).body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "ok"));
    assert_eq!(closed.load(Ordering::SeqCst), 0, "kept alive at first");
    let deadline = Instant::now() + Duration::from_secs(5);
    while closed.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "closed by the proxy after idle_timeout"
    );
}
