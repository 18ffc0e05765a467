//! Clients: HTTP/1.1 and HTTP/2 over plain TCP or TLS (hyper-util with
//! rustls), a load generator, raw bytes on a socket, and what a TLS
//! handshake is served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;

/// What a test reads of a response.
#[derive(Debug)]
pub struct Reply {
    pub status: http::StatusCode,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The origin's name, from the `x-served-by` header.
    pub fn served_by(&self) -> &str {
        self.header("x-served-by").unwrap_or("")
    }

    /// Lines of the origin's page that show a received header, e.g.
    /// `x-forwarded-proto: https`.
    pub fn received(&self, header: &str) -> Vec<String> {
        let prefix = format!("{header}: ");
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }
}

#[derive(Clone)]
pub struct Client {
    inner: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Client {
    /// Speaks HTTP/1.1 or HTTP/2 (by ALPN) and trusts `ca_pem`.
    pub fn new(ca_pem: &str) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("valid pem")).expect("valid root");
        }
        let tls = rustls::ClientConfig::builder_with_provider(switchyard::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .build();
        let inner = HyperClient::builder(TokioExecutor::new()).build(connector);
        Client { inner }
    }

    pub async fn get(&self, url: &str) -> Reply {
        self.send(http::Request::get(url).body(Full::default()).expect("request"))
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = http::Request::get(url);
        for (n, v) in headers {
            request = request.header(*n, *v);
        }
        self.send(request.body(Full::default()).expect("request"))
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    pub async fn send(&self, request: http::Request<Full<Bytes>>) -> Result<Reply, String> {
        let response = self.inner.request(request).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        Ok(Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// What a load run saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub ok: usize,
    /// Every failure: status or transport error, with the body or reason.
    pub failures: Vec<String>,
    /// Responses that failed `check`.
    pub inconsistent: Vec<String>,
}

/// Sends `total` GET requests to `url` from `clients` concurrent
/// keep-alive clients; every 2xx response must pass `check`.
pub async fn load(
    client: &Client,
    url: &str,
    total: usize,
    clients: usize,
    check: impl Fn(&Reply) -> Result<(), String> + Send + Sync + 'static,
) -> LoadReport {
    let check = Arc::new(check);
    let per_client = total.div_ceil(clients);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, check) = (client.clone(), url.to_string(), Arc::clone(&check));
        tasks.push(tokio::spawn(async move {
            let mut report = LoadReport::default();
            for _ in 0..per_client {
                match client
                    .send(http::Request::get(&url).body(Full::default()).unwrap())
                    .await
                {
                    Ok(reply) if reply.status.is_success() => match check(&reply) {
                        Ok(()) => report.ok += 1,
                        Err(e) => report.inconsistent.push(e),
                    },
                    Ok(reply) => report.failures.push(format!("{}: {}", reply.status, reply.body)),
                    Err(e) => report.failures.push(e),
                }
            }
            report
        }));
    }
    let mut total_report = LoadReport::default();
    for task in tasks {
        let report = task.await.expect("load task");
        total_report.ok += report.ok;
        total_report.failures.extend(report.failures);
        total_report.inconsistent.extend(report.inconsistent);
    }
    total_report
}

/// Sends raw bytes on a new connection and reads what comes back until the
/// server closes or `wait` passes. Returns the status code (if a response
/// came) and everything read.
pub async fn raw_exchange(address: SocketAddr, request: &[u8], wait: Duration) -> (Option<u16>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut received = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, text)
}

/// The leaf certificate a new TLS handshake with `address` gets (any
/// certificate is accepted: the caller compares it).
pub async fn served_leaf(address: SocketAddr) -> Vec<u8> {
    #[derive(Debug)]
    struct AcceptAny;
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &[rustls::pki_types::CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &rustls::pki_types::CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            switchyard::tls::provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(switchyard::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(rustls::pki_types::ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    tls.get_ref().1.peer_certificates().expect("a certificate")[0].to_vec()
}

/// The DER of the first certificate in a PEM text.
pub fn der_of(pem: &str) -> Vec<u8> {
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("a certificate")
        .to_vec()
}
