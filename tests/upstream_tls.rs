//! HTTPS to the servers, against real nginx (Debian's) serving TLS with a
//! CA made in the test: verification, the SNI name, session resumption,
//! health checks over the same TLS, a certificate for another name (502,
//! logged with the server and the reason), mutual TLS, and verification
//! turned off by name.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use support::config::{table, Backend, Listener, ProxyConfig};
use support::{Issued, Lab, Nginx, NginxSite, ProxyProcess, TestCa};

/// nginx serving TLS with `certificate`, closing every connection after one
/// response (so each request needs a new handshake), and telling in headers
/// what it saw: the SNI name, whether the session was resumed, the client
/// certificate's subject.
async fn tls_origin(name: &str, certificate: &Issued, extra: &str) -> Nginx {
    let site = NginxSite {
        listen: "ssl".into(),
        directives: format!(
            "ssl_certificate {};\nssl_certificate_key {};\nkeepalive_timeout 0;\n{extra}",
            certificate.cert.display(),
            certificate.key.display()
        ),
        location: "add_header x-sni $ssl_server_name always;\n\
                   add_header x-reused $ssl_session_reused always;\n\
                   add_header x-client $ssl_client_s_dn always;"
            .into(),
    };
    Nginx::start_site(name, support::ANY_PORT.parse().unwrap(), &site).await
}

/// A listener `web` in front of backend `secure` with these TLS settings.
fn proxy_config(server: SocketAddr, tls: toml::Table, health: bool) -> ProxyConfig {
    let mut secure = Backend::of(&[("tls1", server)]);
    secure.tls = Some(tls);
    secure.retries = Some(0);
    if health {
        secure.health_check = Some(table([
            ("path", "/health".into()),
            ("interval", "100ms".into()),
            ("rise", 1.into()),
            ("fall", 1.into()),
        ]));
    }
    let mut config = ProxyConfig {
        listeners: vec![Listener::plain("web").default_backend("secure")],
        ..ProxyConfig::default()
    };
    config.backends.insert("secure".into(), secure);
    config
}

fn tls(ca: &Path, server_name: &str) -> toml::Table {
    table([
        ("ca", ca.display().to_string().into()),
        ("server_name", server_name.into()),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_tls_resumes_sessions_and_health_checks_speak_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let certificate = ca.issue(dir.path(), "backend", &["backend.test"]);
    let origin = tls_origin("tls1", &certificate, "").await;
    let lab = Lab::start_with(|_| proxy_config(origin.address, tls(&ca.path, "backend.test"), true)).await;
    let client = lab.client();
    let mut reused = Vec::new();
    for _ in 0..5 {
        let reply = client.get(&lab.url("web", "/page")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.served_by(), "tls1");
        assert_eq!(reply.header("x-sni"), Some("backend.test"), "the configured SNI name");
        reused.push(reply.header("x-reused").unwrap_or("").to_string());
    }
    // nginx closes after each response: five handshakes, all but the first
    // resumed from the backend's session cache ("r"; "." is a full one).
    // The first may resume too: a health check over TLS can have made the
    // backend's first, full, handshake already.
    assert!(
        reused[1..].iter().all(|r| r == "r"),
        "later handshakes resume: {reused:?}"
    );
    let generation = lab.proxy.proxy().generation();
    let server = generation.backends["secure"].backend.server("tls1").unwrap();
    assert!(server.pool.connects() >= 5, "a connection per request");
    support::eventually(Duration::from_secs(5), "a health check over TLS", async || {
        server.last_check().is_some_and(|c| c.ok && c.detail == "status 200")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_a_502_naming_the_server_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let certificate = ca.issue(dir.path(), "backend", &["backend.test"]);
    let origin = tls_origin("tls1", &certificate, "").await;
    let config = proxy_config(origin.address, tls(&ca.path, "other.test"), true);
    let proxy = ProxyProcess::start(&config.write(dir.path()));
    let web = proxy.address_logged("listening listener=web");
    let reply = support::Client::new("").get(&format!("http://{web}/")).await;
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert!(reply.body.contains("TLS could not be verified"), "{}", reply.body);
    let line =
        tokio::task::block_in_place(|| proxy.line_containing("TLS with the server failed", Duration::from_secs(10)));
    for part in [
        "server=tls1",
        "backend=secure",
        "other.test",
        "certificate not valid for name",
    ] {
        assert!(line.contains(part), "{part:?} in {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_requires_a_client_certificate_accepts_the_configured_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "ca");
    let certificate = ca.issue(dir.path(), "backend", &["backend.test"]);
    let client_certificate = ca.issue(dir.path(), "proxy-client", &["switchyard-proxy"]);
    let require = format!("ssl_verify_client on;\nssl_client_certificate {};", ca.path.display());
    let origin = tls_origin("tls1", &certificate, &require).await;

    // Without one: nginx refuses the request (400).
    let lab = Lab::start_with(|_| proxy_config(origin.address, tls(&ca.path, "backend.test"), false)).await;
    let refused = lab.client().get(&lab.url("web", "/")).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    drop(lab);

    // With the configured one.
    let mut settings = tls(&ca.path, "backend.test");
    settings.insert(
        "client_cert".into(),
        client_certificate.cert.display().to_string().into(),
    );
    settings.insert("client_key".into(), client_certificate.key.display().to_string().into());
    let lab = Lab::start_with(|_| proxy_config(origin.address, settings, false)).await;
    let reply = lab.client().get(&lab.url("web", "/")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .header("x-client")
            .is_some_and(|dn| dn.contains("CN=switchyard-proxy")),
        "{:?}",
        reply.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_tls_only_by_its_name_and_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let strangers = TestCa::new(dir.path(), "unknown-ca");
    let certificate = strangers.issue(dir.path(), "backend", &["backend.test"]);
    let origin = tls_origin("tls1", &certificate, "").await;
    // Verified against the system's roots: refused.
    let verified = proxy_config(origin.address, toml::Table::new(), false);
    let lab = Lab::start_with(|_| verified).await;
    assert_eq!(lab.client().get(&lab.url("web", "/")).await.status, 502);
    drop(lab);
    // insecure_skip_verify: served, and the load says so.
    let config = proxy_config(origin.address, table([("insecure_skip_verify", true.into())]), false);
    let proxy = ProxyProcess::start(&config.write(dir.path()));
    let line = tokio::task::block_in_place(|| proxy.line_containing("insecure_skip_verify", Duration::from_secs(10)));
    assert!(line.contains("WARN") && line.contains("backend=secure"), "{line}");
    let web = proxy.address_logged("listening listener=web");
    let reply = support::Client::new("").get(&format!("http://{web}/")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
