//! Several certificates on one listener, chosen by SNI: two domains, a
//! wildcard, a default for unknown names and for clients that send none
//! (or a refused handshake, by setting); replacing one domain's files
//! changes only that domain; the status lists every certificate with its
//! names; plugins read the SNI name and ALPN.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use support::config::{Admin, Backend, Certificate, Listener, Plugin, ProxyConfig, Tls};
use support::{der_of, fixture, Lab, TestCa};

/// Accepts any certificate: the tests compare what was served.
#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        switchyard::tls::provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection to `address` sending `name` by SNI (none: by IP).
async fn handshake(
    address: SocketAddr,
    name: Option<&str>,
    alpn: &[&[u8]],
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, std::io::Error> {
    let mut config = rustls::ClientConfig::builder_with_provider(switchyard::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let server_name = match name {
        Some(name) => ServerName::try_from(name.to_string()).unwrap(),
        None => ServerName::IpAddress(address.ip().into()),
    };
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
}

/// The leaf certificate a handshake asking for `name` gets.
async fn served(address: SocketAddr, name: Option<&str>) -> Option<Vec<u8>> {
    let tls = handshake(address, name, &[]).await.ok()?;
    Some(tls.get_ref().1.peer_certificates()?[0].to_vec())
}

struct Site {
    ca: TestCa,
    a: support::Issued,
    b: support::Issued,
    wild: support::Issued,
}

fn site(dir: &Path) -> Site {
    let ca = TestCa::new(dir, "ca");
    Site {
        a: ca.issue(dir, "a", &["a.test", "www.a.test"]),
        b: ca.issue(dir, "b", &["b.test"]),
        wild: ca.issue(dir, "wild", &["*.wild.test"]),
        ca,
    }
}

fn config(site: &Site, unknown_name: Option<&str>, web: SocketAddr) -> ProxyConfig {
    let certificate = |issued: &support::Issued| Certificate {
        cert: issued.cert.clone(),
        key: Some(issued.key.clone()),
    };
    let mut config = ProxyConfig {
        admin: Some(Admin {
            bind: support::ANY_PORT.into(),
            token: None,
        }),
        listeners: vec![Listener {
            tls: Some(Tls {
                certificates: vec![certificate(&site.a), certificate(&site.b), certificate(&site.wild)],
                unknown_name: unknown_name.map(str::to_string),
                ..Tls::default()
            }),
            ..Listener::plain("secure").plugins(&["echo"]).default_backend("www")
        }],
        ..ProxyConfig::default()
    };
    config.backends.insert("www".into(), Backend::of(&[("web1", web)]));
    config.plugins.insert(
        "echo".into(),
        Plugin {
            source: fixture("echo").display().to_string(),
            ..Plugin::default()
        },
    );
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_name_gets_its_certificate_and_unknown_names_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let lab = Lab::start_with(|parts| config(&site, None, parts.web1)).await;
    let address = lab.addr("secure");
    let (a, b, wild) = (
        der_of(&site.a.cert_pem),
        der_of(&site.b.cert_pem),
        der_of(&site.wild.cert_pem),
    );
    assert_eq!(served(address, Some("a.test")).await, Some(a.clone()));
    assert_eq!(
        served(address, Some("www.a.test")).await,
        Some(a.clone()),
        "a second name"
    );
    assert_eq!(
        served(address, Some("B.TEST")).await,
        Some(b.clone()),
        "names are case-insensitive"
    );
    assert_eq!(
        served(address, Some("api.wild.test")).await,
        Some(wild.clone()),
        "the wildcard"
    );
    assert_eq!(
        served(address, Some("x.api.wild.test")).await,
        Some(a.clone()),
        "a wildcard covers one label"
    );
    assert_eq!(
        served(address, Some("unknown.test")).await,
        Some(a.clone()),
        "unknown: the default"
    );
    assert_eq!(served(address, None).await, Some(a), "no SNI: the default");

    // The status lists every certificate with its names.
    let admin = lab.proxy.admin_addr().unwrap();
    let status = lab.client().get(&format!("http://{admin}/status")).await;
    let status: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    let names: Vec<&serde_json::Value> = status["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["names"])
        .collect();
    assert_eq!(
        names,
        [
            &serde_json::json!(["a.test", "www.a.test"]),
            &serde_json::json!(["b.test"]),
            &serde_json::json!(["*.wild.test"])
        ]
    );
    assert!(status["certificates"][2]["not_after"].as_i64().unwrap() > 0);
    drop(site.ca);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_can_be_refused() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let lab = Lab::start_with(|parts| config(&site, Some("refuse"), parts.web1)).await;
    let address = lab.addr("secure");
    assert_eq!(served(address, Some("b.test")).await, Some(der_of(&site.b.cert_pem)));
    assert_eq!(served(address, Some("unknown.test")).await, None, "refused");
    assert_eq!(served(address, None).await, None, "no SNI: refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_one_domains_files_changes_only_that_domain() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let lab = Lab::start_with(|parts| config(&site, None, parts.web1)).await;
    let address = lab.addr("secure");
    let (a, wild) = (der_of(&site.a.cert_pem), der_of(&site.wild.cert_pem));
    // A renewed certificate for b.test, written over b's files.
    let renewed = site.ca.issue(dir.path(), "b-renewed", &["b.test"]);
    support::replace_file(&site.b.key, &std::fs::read(&renewed.key).unwrap());
    support::replace_file(&site.b.cert, renewed.cert_pem.as_bytes());
    let fresh = der_of(&renewed.cert_pem);
    support::eventually(
        Duration::from_secs(5),
        "b.test gets the renewed certificate",
        async || served(address, Some("b.test")).await == Some(fresh.clone()),
    )
    .await;
    assert_eq!(served(address, Some("a.test")).await, Some(a), "a.test unchanged");
    assert_eq!(
        served(address, Some("api.wild.test")).await,
        Some(wild),
        "the wildcard unchanged"
    );
}

/// Plugins read the SNI name and the ALPN protocol of the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_see_the_sni_name_and_alpn() {
    let dir = tempfile::tempdir().unwrap();
    let site = site(dir.path());
    let lab = Lab::start_with(|parts| config(&site, None, parts.web1)).await;
    let tls = handshake(lab.addr("secure"), Some("B.Test"), &[b"http/1.1"])
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get("/who")
        .header("host", "b.test")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("tls-server-name=b.test\n"), "{body}");
    assert!(body.contains("alpn=http/1.1\n"), "{body}");
    assert!(body.contains("upgrade=\n"), "{body}");
}
