//! Shared test fixtures: a lab (origins, ACME stand-in, generated
//! certificate, proxy from a TOML template) on 127.0.0.1 port 0, and HTTP
//! clients for plain HTTP, HTTPS and HTTP/2. Everything is real: sockets,
//! TLS, Wasm components.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use switchyard::config::Config;
use switchyard::demo::{AcmeResponder, Origin, SelfSigned};
use switchyard::plugin::{builtin::GUEST_WASM_DIR, PluginEngine};
use switchyard::running::RunningProxy;

#[path = "examples.rs"]
mod examples;
#[allow(unused_imports)]
pub use examples::{rust_example, script_example};

/// One engine per test process, so each component is compiled once.
pub fn engine() -> Arc<PluginEngine> {
    static ENGINE: OnceLock<Arc<PluginEngine>> = OnceLock::new();
    Arc::clone(ENGINE.get_or_init(|| PluginEngine::new().expect("the Wasm engine starts")))
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
}

/// A fixture component built from `guest-plugins/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(GUEST_WASM_DIR).join(format!("{name}.wasm"))
}

pub const ANY_PORT: &str = "127.0.0.1:0";

/// Origins, ACME stand-in, certificate and proxy, started from a template.
/// Placeholders: `{web1}` `{web2}` `{acme}` (addresses), `{cert}` `{key}`
/// (separate PEM files), `{combined}` (one PEM), `{fixtures}` (directory of
/// the fixture components), `{dir}` (a scratch directory).
pub struct Lab {
    pub proxy: RunningProxy,
    pub web1: Option<Origin>,
    pub web2: Option<Origin>,
    pub web_addresses: [SocketAddr; 2],
    pub acme: AcmeResponder,
    pub certificate: SelfSigned,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Lab {
    pub async fn start(template: &str) -> Lab {
        init_tracing();
        let any: SocketAddr = ANY_PORT.parse().unwrap();
        let web1 = Origin::start("web1", any).await.expect("origin web1 starts");
        let web2 = Origin::start("web2", any).await.expect("origin web2 starts");
        let acme = AcmeResponder::start(any).await.expect("ACME stand-in starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let certificate = SelfSigned::generate(&["localhost", "127.0.0.1"]).expect("certificate");
        let combined = certificate
            .write_combined(dir.path(), "combined.pem")
            .expect("write pem");
        let (cert, key) = certificate.write_separate(dir.path()).expect("write pems");
        let text = template
            .replace("{web1}", &web1.address().to_string())
            .replace("{web2}", &web2.address().to_string())
            .replace("{acme}", &acme.address().to_string())
            .replace("{combined}", &combined.display().to_string())
            .replace("{cert}", &cert.display().to_string())
            .replace("{key}", &key.display().to_string())
            .replace("{fixtures}", GUEST_WASM_DIR)
            .replace("{dir}", &dir.path().display().to_string());
        let config_path = dir.path().join("switchyard.toml");
        std::fs::write(&config_path, &text).expect("write config");
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("test config is valid: {e}"));
        let proxy = RunningProxy::start(config, engine())
            .await
            .unwrap_or_else(|e| panic!("proxy starts: {e}"));
        Lab {
            proxy,
            web_addresses: [web1.address(), web2.address()],
            web1: Some(web1),
            web2: Some(web2),
            acme,
            certificate,
            dir,
            config_path,
        }
    }

    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.proxy
            .local_addr(listener)
            .unwrap_or_else(|| panic!("listener {listener} is bound"))
    }

    pub fn url(&self, listener: &str, path: &str) -> String {
        let generation = self.proxy.proxy().generation();
        let tls = generation
            .config
            .listeners
            .iter()
            .any(|l| l.name == listener && l.tls.is_some());
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr(listener))
    }

    /// A client that trusts this lab's certificate.
    pub fn client(&self) -> Client {
        Client::new(&self.certificate.cert_pem)
    }

    /// Whether the proxy currently holds this server healthy.
    pub fn server_healthy(&self, backend: &str, server: &str) -> bool {
        let generation = self.proxy.proxy().generation();
        let backend = &generation.backends[backend].backend;
        backend.server(server).expect("server exists").is_healthy()
    }

    pub async fn wait_for_health(&self, backend: &str, server: &str, healthy: bool, limit: Duration) -> Duration {
        let started = Instant::now();
        while self.server_healthy(backend, server) != healthy {
            assert!(
                started.elapsed() < limit,
                "{backend}/{server} did not become {} within {limit:?}",
                if healthy { "healthy" } else { "unhealthy" }
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        started.elapsed()
    }
}

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

use rustls::pki_types::pem::PemObject;

/// The lab's configuration as the tests use it: `examples/lab.toml` with
/// loopback addresses, port 0 listeners and fast health checks.
pub const LAB: &str = r#"
[[listener]]
name = "www-http"
bind = "127.0.0.1:0"
plugins = ["forwarded-proto", "acme-challenge", "https-redirect"]

[[listener]]
name = "www-https"
bind = "127.0.0.1:0"
tls = { cert = "{combined}" }
plugins = ["forwarded-proto", "acme-challenge"]
default_backend = "www-backend"

[backend.www-backend]
balancer = "round-robin"
health_check = { method = "GET", path = "/health", expect_status = 200, interval = "100ms", timeout = "100ms", rise = 2, fall = 2 }
servers = [
  { name = "web1", address = "{web1}" },
  { name = "web2", address = "{web2}" },
]

[backend.letsencrypt-backend]
servers = [{ name = "letsencrypt", address = "{acme}" }]

[plugin.forwarded-proto]
source = "builtin:forwarded-proto"

[plugin.acme-challenge]
source = "builtin:acme-challenge"
config = { backend = "letsencrypt-backend" }

[plugin.https-redirect]
source = "builtin:https-redirect"
config = { port = 9443 }

[plugin.round-robin]
source = "builtin:round-robin"
"#;

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

/// Replaces a file the way deploy tools and editors do: write a temporary
/// file next to it, then rename it over the old one.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-swap");
    std::fs::write(&tmp, bytes).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename over");
}

/// Polls `probe` until it returns true.
pub async fn eventually(limit: Duration, what: &str, mut probe: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !probe().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
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

/// A real nginx (Debian's package) as an origin process: `GET /health`
/// answers 200, everything else names the server in its body and in
/// `x-served-by`. Killing it is a real SIGKILL of a real process.
pub struct Nginx {
    child: Option<std::process::Child>,
    pub name: String,
    pub address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx on `address` (port 0 picks a free port).
    pub async fn start(name: &str, address: SocketAddr) -> Nginx {
        let address = if address.port() == 0 {
            std::net::TcpListener::bind(address).unwrap().local_addr().unwrap()
        } else {
            address
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 100000;
    server {{
        listen {address};
        location = /health {{ return 200 "ok\n"; }}
        location / {{
            add_header x-served-by {name} always;
            return 200 "Served by {name}\n";
        }}
    }}
}}
"#
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let child = std::process::Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts (apt-get install nginx; ./dev test does it)");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(address).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx listens on {address}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Nginx {
            child: Some(child),
            name: name.to_string(),
            address,
            _dir: dir,
        }
    }

    /// SIGKILL: the process dies with its connections open.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A server that accepts connections and never answers (nor closes them).
pub struct BlackHole {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    pub async fn start() -> BlackHole {
        let socket = tokio::net::TcpListener::bind(ANY_PORT).await.unwrap();
        let address = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = socket.accept().await {
                held.push(stream);
            }
        });
        BlackHole { address, task }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
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

/// `switchyard run` as a child process, its log lines readable.
pub struct ProxyProcess {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ProxyProcess {
    pub fn start(config: &Path) -> ProxyProcess {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
        command.args(["run", "-c"]).arg(config);
        ProxyProcess::spawn(command)
    }

    /// Runs `command` (which execs `switchyard run`), reading its log.
    pub fn spawn(mut command: std::process::Command) -> ProxyProcess {
        let mut child = command
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("switchyard starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
                eprintln!("proxy: {line}");
                let _ = tx.send(line);
            }
        });
        ProxyProcess { child, lines }
    }

    /// Waits for a log line containing `marker` and returns the address
    /// logged on it (`address=...`).
    pub fn address_logged(&self, marker: &str) -> SocketAddr {
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

    /// Waits (at most `limit`) for a log line containing `marker`; the line.
    pub fn line_containing(&self, marker: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(marker) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {marker:?} within {limit:?}"),
            }
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl ProxyProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit; its exit code.
    pub fn wait(mut self) -> Option<i32> {
        self.child.wait().ok()?.code()
    }

    /// The exit code, if the process exits within `limit`.
    pub fn exits_within(&mut self, limit: Duration) -> Option<Option<i32>> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A server that accepts connections and closes them at once, counting
/// them: every request to it fails after the connection was made.
pub struct Closer {
    pub address: SocketAddr,
    pub accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Closer {
    pub async fn start() -> Closer {
        let socket = tokio::net::TcpListener::bind(ANY_PORT).await.unwrap();
        let address = socket.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        Closer {
            address,
            accepted,
            task,
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real `redis-server` (Debian's) on a free loopback port, with no
/// persistence; killed when dropped.
pub struct RedisServer {
    child: std::process::Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        RedisServer::start_on(port)
    }

    /// On `port` (to bring one back where it was).
    pub fn start_on(port: u16) -> RedisServer {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server listens on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
