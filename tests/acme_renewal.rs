//! The lab's certificate renewal, for real: Debian's certbot gets
//! certificates from Pebble (Let's Encrypt's test ACME server) with the
//! HTTP-01 challenge answered *through the running proxy*, and the proxy
//! serves each new certificate without a restart.
//!
//! Needs the `certbot` and `pebble` packages (`./dev test` and `.ci/run`
//! install them).

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use support::config::{Backend, Listener, ProxyConfig, Tls};
use support::{der_of, eventually, replace_file};
use switchyard::config::Config;
use switchyard::running::RunningProxy;

const DOMAIN: &str = "shop.example.com";

/// A background process killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{program} is not installed: apt-get install certbot pebble (./dev test does it)"
    );
}

/// A throwaway CA and a leaf for Pebble's own HTTPS API.
fn pebble_tls(dir: &Path) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "switchyard test CA for pebble");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "pebble");
    let leaf = leaf.signed_by(&leaf_key, &ca).unwrap();
    std::fs::write(dir.join("pebble-ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("pebble-cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("pebble-key.pem"), leaf_key.serialize_pem()).unwrap();
}

fn start_pebble(dir: &Path, api: u16, http_port: u16) -> (Daemon, Daemon) {
    let dns = free_port();
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let challtestsrv = Command::new("pebble-challtestsrv")
        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
        .args(["-dns01", &format!("127.0.0.1:{dns}")])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
        .args(["-management", &format!("127.0.0.1:{}", free_port())])
        .stdout(log("challtestsrv.log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble-challtestsrv starts");
    let config = serde_json::json!({ "pebble": {
        "listenAddress": format!("127.0.0.1:{api}"),
        "managementListenAddress": format!("127.0.0.1:{}", free_port()),
        "certificate": dir.join("pebble-cert.pem"),
        "privateKey": dir.join("pebble-key.pem"),
        "httpPort": http_port,
        "tlsPort": free_port(),
        "ocspResponderURL": "",
        "externalAccountBindingRequired": false,
    }});
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let pebble = Command::new("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_AUTHZREUSE", "0")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(log("pebble.log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("pebble starts");
    (Daemon(challtestsrv), Daemon(pebble))
}

/// Runs certbot against Pebble, answering HTTP-01 on `challenge_port`.
async fn certbot(dir: &Path, api: u16, challenge_port: u16, verb: &[&str]) {
    let dir = dir.to_path_buf();
    let args: Vec<String> = verb.iter().map(|s| s.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("certbot")
            .args(&args)
            .args(["--server", &format!("https://127.0.0.1:{api}/dir")])
            .arg("--config-dir")
            .arg(dir.join("le/config"))
            .arg("--work-dir")
            .arg(dir.join("le/work"))
            .arg("--logs-dir")
            .arg(dir.join("le/logs"))
            .args(["--non-interactive", "--agree-tos", "--register-unsafely-without-email"])
            .args(["--no-random-sleep-on-renew", "--http-01-address", "127.0.0.1"])
            .args(["--http-01-port", &challenge_port.to_string()])
            .env("REQUESTS_CA_BUNDLE", dir.join("pebble-ca.pem"))
            .output()
            .expect("certbot runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "certbot {verb:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certbot_renews_through_the_proxy_and_the_new_certificate_is_served_without_restart() {
    require("certbot");
    require("pebble");
    support::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    pebble_tls(dir);
    let (api, http_port, challenge_port) = (free_port(), free_port(), free_port());
    let _pebble = start_pebble(dir, api, http_port);

    // The lab: port "80" forwards challenges to certbot's standalone
    // responder; port "443" starts on a placeholder certificate.
    let placeholder = switchyard::demo::SelfSigned::generate(&[DOMAIN]).unwrap();
    let (cert, key) = placeholder.write_separate(dir).unwrap();
    let mut config = ProxyConfig {
        listeners: vec![
            Listener {
                bind: format!("127.0.0.1:{http_port}"),
                ..Listener::plain("www-http").plugins(&["forwarded-proto", "acme-challenge", "https-redirect"])
            },
            Listener {
                tls: Some(Tls {
                    cert: Some(cert.clone()),
                    key: Some(key.clone()),
                    ..Tls::default()
                }),
                ..Listener::plain("www-https")
                    .plugins(&["forwarded-proto", "acme-challenge"])
                    .default_backend("letsencrypt-backend")
            },
        ],
        ..ProxyConfig::default()
    };
    let certbot_responder: SocketAddr = format!("127.0.0.1:{challenge_port}").parse().unwrap();
    config.backends.insert(
        "letsencrypt-backend".into(),
        Backend::of(&[("letsencrypt", certbot_responder)]),
    );
    support::add_lab_plugins(&mut config, 443);
    let config_path = config.write(dir);
    let proxy = RunningProxy::start(Config::load(&config_path).unwrap(), support::engine())
        .await
        .unwrap();
    let https: SocketAddr = proxy.local_addr("www-https").unwrap();
    // Pebble's API must be up before certbot asks it anything.
    eventually(Duration::from_secs(20), "pebble listens", async || {
        tokio::net::TcpStream::connect(("127.0.0.1", api)).await.is_ok()
    })
    .await;

    // First certificate, validated through the proxy's plain listener.
    certbot(dir, api, challenge_port, &["certonly", "--standalone", "-d", DOMAIN]).await;
    let live = dir.join("le/config/live").join(DOMAIN);
    let issued = |name: &str| der_of(&std::fs::read_to_string(live.join(name)).unwrap());
    let first = issued("cert.pem");
    config.listener_mut("www-https").tls = Some(Tls {
        cert: Some(live.join("fullchain.pem")),
        key: Some(live.join("privkey.pem")),
        ..Tls::default()
    });
    replace_file(&config_path, config.to_toml().as_bytes());
    eventually(Duration::from_secs(5), "the issued certificate is served", async || {
        support::served_leaf(https).await == first
    })
    .await;

    // Renewal: certbot writes new files and retargets the live/ symlinks.
    certbot(dir, api, challenge_port, &["renew", "--force-renewal"]).await;
    let renewed = issued("cert.pem");
    assert_ne!(renewed, first, "certbot issued a new certificate");
    let took = eventually(
        Duration::from_secs(2),
        "the renewed certificate is served",
        async || support::served_leaf(https).await == renewed,
    )
    .await;
    eprintln!("renewed certificate served {took:?} after certbot returned");
    assert_eq!(proxy.reloader().status().generation, 2, "no restart, one config reload");
    let status = proxy.reloader().status();
    let served = status.certificates.iter().find(|c| c.listener == "www-https").unwrap();
    assert_eq!(
        served.fingerprint,
        switchyard::plugin::ContentHash::of(&renewed).to_string()
    );
    proxy.shutdown().await;
}
