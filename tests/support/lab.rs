//! The lab: two origins, the ACME stand-in, a generated certificate and a
//! proxy, on 127.0.0.1 port 0. The proxy's configuration is a typed value
//! (`config.rs`) built from the lab's parts, or a TOML template.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchyard::config::Config;
use switchyard::demo::{AcmeResponder, Origin, SelfSigned};
use switchyard::plugin::builtin::GUEST_WASM_DIR;
use switchyard::running::RunningProxy;

use super::client::Client;
use super::config::{table, Backend, Listener, Plugin, ProxyConfig};
use super::{engine, init_tracing, ANY_PORT};

/// What a lab configuration can refer to: addresses and files that exist
/// once the lab's parts are running.
pub struct LabParts {
    pub web1: SocketAddr,
    pub web2: SocketAddr,
    pub acme: SocketAddr,
    /// The certificate's chain and key in one PEM (HAProxy style).
    pub combined: PathBuf,
    /// The chain and the key as two files.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// A scratch directory (the configuration file is written there).
    pub dir: PathBuf,
}

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
    /// The typed configuration it started with (`start_with`), which
    /// [`Lab::rewrite`] changes.
    pub config: Option<ProxyConfig>,
}

impl Lab {
    /// The lab with the proxy configuration `build` makes from its parts.
    pub async fn start_with(build: impl FnOnce(&LabParts) -> ProxyConfig) -> Lab {
        let mut built = None;
        let mut lab = Lab::start_from(|parts| {
            let config = build(parts);
            let text = config.to_toml();
            built = Some(config);
            text
        })
        .await;
        lab.config = built;
        lab
    }

    /// Changes the typed configuration and replaces the file the way
    /// deploy tools do (write beside it, rename over it).
    pub fn rewrite(&mut self, change: impl FnOnce(&mut ProxyConfig)) {
        let config = self
            .config
            .as_mut()
            .expect("rewrite needs a lab started with start_with");
        change(config);
        super::replace_file(&self.config_path, config.to_toml().as_bytes());
    }

    /// The lab with a TOML template (see the placeholders above).
    pub async fn start(template: &str) -> Lab {
        Lab::start_from(|parts| {
            template
                .replace("{web1}", &parts.web1.to_string())
                .replace("{web2}", &parts.web2.to_string())
                .replace("{acme}", &parts.acme.to_string())
                .replace("{combined}", &parts.combined.display().to_string())
                .replace("{cert}", &parts.cert.display().to_string())
                .replace("{key}", &parts.key.display().to_string())
                .replace("{fixtures}", GUEST_WASM_DIR)
                .replace("{dir}", &parts.dir.display().to_string())
        })
        .await
    }

    async fn start_from(text_of: impl FnOnce(&LabParts) -> String) -> Lab {
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
        let text = text_of(&LabParts {
            web1: web1.address(),
            web2: web2.address(),
            acme: acme.address(),
            combined,
            cert,
            key,
            dir: dir.path().to_path_buf(),
        });
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
            config: None,
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

/// [`LAB`] as a typed value, for tests that change part of it.
pub fn lab_config(parts: &LabParts) -> ProxyConfig {
    let mut config = ProxyConfig {
        listeners: vec![
            Listener::plain("www-http").plugins(&["forwarded-proto", "acme-challenge", "https-redirect"]),
            Listener::tls("www-https", &parts.combined)
                .plugins(&["forwarded-proto", "acme-challenge"])
                .default_backend("www-backend"),
        ],
        ..ProxyConfig::default()
    };
    let mut www = Backend::of(&[("web1", parts.web1), ("web2", parts.web2)]);
    www.balancer = Some("round-robin".into());
    www.health_check = Some(table([
        ("method", "GET".into()),
        ("path", "/health".into()),
        ("expect_status", 200.into()),
        ("interval", "100ms".into()),
        ("timeout", "100ms".into()),
        ("rise", 2.into()),
        ("fall", 2.into()),
    ]));
    config.backends.insert("www-backend".into(), www);
    config.backends.insert(
        "letsencrypt-backend".into(),
        Backend::of(&[("letsencrypt", parts.acme)]),
    );
    add_lab_plugins(&mut config, 9443);
    config
        .plugins
        .insert("round-robin".into(), Plugin::builtin("round-robin"));
    config
}

/// The lab's three request hooks, the redirect naming `https_port`.
pub fn add_lab_plugins(config: &mut ProxyConfig, https_port: u16) {
    config
        .plugins
        .insert("forwarded-proto".into(), Plugin::builtin("forwarded-proto"));
    config.plugins.insert(
        "acme-challenge".into(),
        Plugin::builtin("acme-challenge").set("backend", "letsencrypt-backend"),
    );
    config.plugins.insert(
        "https-redirect".into(),
        Plugin::builtin("https-redirect").set("port", i64::from(https_port)),
    );
}
