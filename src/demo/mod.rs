//! `switchyard demo`: the lab of `LAB.md` on loopback, in one process. Two
//! origin servers, an ACME stand-in, a self-signed certificate, and the
//! proxy with the four default plugins, configured by a TOML file written
//! next to the certificate (so it can be read, copied and edited).

mod acme;
mod certs;
mod origin;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use acme::{AcmeResponder, THUMBPRINT};
pub use certs::SelfSigned;
pub use origin::Origin;

use crate::config::Config;
use crate::plugin::PluginEngine;
use crate::running::{RunningProxy, StartError};

/// Why the demo did not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// An origin or the ACME stand-in could not bind, or a file be written.
    #[error("cannot start the demo's {what}")]
    Io {
        /// What could not start.
        what: &'static str,
        /// The socket or file error.
        #[source]
        source: std::io::Error,
    },
    /// The self-signed certificate could not be made.
    #[error("cannot make the demo certificate")]
    Certificate(#[from] rcgen::Error),
    /// The generated configuration is invalid: a bug.
    #[error("the demo configuration is invalid (a bug)")]
    Config(#[from] crate::config::ConfigError),
    /// The proxy did not start.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// Where the demo's proxy listens.
#[derive(Debug, Clone, Copy)]
pub struct DemoPorts {
    /// The plain-HTTP listener's address (port 0 picks a free port).
    pub http: SocketAddr,
    /// The HTTPS listener's address (port 0 picks a free port).
    pub https: SocketAddr,
}

/// The running demo; dropping it stops the origins.
pub struct Demo {
    /// The proxy, configured as the lab.
    pub proxy: RunningProxy,
    /// The origins `web1` and `web2`.
    pub origins: Vec<Origin>,
    /// The ACME stand-in behind `letsencrypt-backend`.
    pub acme: AcmeResponder,
    /// The configuration file written for the proxy.
    pub config_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// The demo's certificate and configuration in a temporary directory,
/// loaded. Blocks: call it off the runtime.
#[allow(clippy::disallowed_methods)]
fn write_files(
    ports: DemoPorts,
    (web1, web2, acme): (SocketAddr, SocketAddr, SocketAddr),
) -> Result<(tempfile::TempDir, PathBuf, Config), DemoError> {
    let io = |what| move |source| DemoError::Io { what, source };
    let dir = tempfile::Builder::new()
        .prefix("switchyard-demo-")
        .tempdir()
        .map_err(io("directory"))?;
    let cert = SelfSigned::generate(&["localhost", "127.0.0.1"])?
        .write_combined(dir.path(), "demo.pem")
        .map_err(io("certificate file"))?;
    let text = demo_config(ports, &cert, web1, web2, acme);
    let config_path = dir.path().join("demo.toml");
    std::fs::write(&config_path, &text).map_err(io("configuration file"))?;
    let config = Config::load(&config_path)?;
    Ok((dir, config_path, config))
}

impl Demo {
    /// Starts the origins, the ACME stand-in and the proxy, its configuration
    /// and certificate written to a temporary directory.
    pub async fn start(ports: DemoPorts, engine: Arc<PluginEngine>) -> Result<Demo, DemoError> {
        let io = |what| move |source| DemoError::Io { what, source };
        // The redirect plugin must name the HTTPS port: settle a port 0 now.
        let ports = DemoPorts {
            https: free_port(ports.https).map_err(io("HTTPS listener"))?,
            ..ports
        };
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let web1 = Origin::start("web1", any_port).await.map_err(io("origin web1"))?;
        let web2 = Origin::start("web2", any_port).await.map_err(io("origin web2"))?;
        let acme = AcmeResponder::start(any_port).await.map_err(io("ACME stand-in"))?;
        let addresses = (web1.address(), web2.address(), acme.address());
        // Files are written and read on a blocking thread, not a worker.
        let (dir, config_path, config) = tokio::task::spawn_blocking(move || write_files(ports, addresses))
            .await
            .map_err(|e| DemoError::Io {
                what: "files",
                source: std::io::Error::other(e),
            })??;
        let proxy = RunningProxy::start(config, engine).await?;
        Ok(Demo {
            proxy,
            origins: vec![web1, web2],
            acme,
            config_path,
            _dir: dir,
        })
    }

    /// What to type to see each rule of the lab at work.
    pub fn guide(&self) -> String {
        let http = self
            .proxy
            .local_addr("www-http")
            .map(|a| a.to_string())
            .unwrap_or_default();
        let https = self
            .proxy
            .local_addr("www-https")
            .map(|a| a.to_string())
            .unwrap_or_default();
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(|o| format!("{} at {}", o.name(), o.address()))
            .collect();
        format!(
            "Switchyard demo: the lab on loopback, every decision made by a Wasm plugin.\n\
             \n  plain HTTP   http://{http}/\n  HTTPS        https://{https}/   (self-signed: curl -k)\n\
             \n  origins      {origins}\n  ACME         stand-in at {acme}\n  config       {config}\n\
             \nTry the lab's rules:\n\
             \n  # https-redirect: plain HTTP goes to HTTPS, same host, path and query (302)\
             \n  curl -i 'http://{http}/some/page?x=1'\n\
             \n  # round-robin: run it twice, the page names web1 then web2\
             \n  curl -k https://{https}/\n\
             \n  # forwarded-proto: the origin sees X-Forwarded-Proto: https, a spoofed value replaced\
             \n  curl -k -H 'X-Forwarded-Proto: http' https://{https}/\n\
             \n  # acme-challenge: challenges reach the ACME stand-in on both listeners, never redirected\
             \n  curl -i http://{http}/.well-known/acme-challenge/test-token\
             \n  curl -k https://{https}/.well-known/acme-challenge/test-token\n\
             \n  # HTTP/2 by ALPN\
             \n  curl -k --http2 -sI https://{https}/\n\
             \nPress Ctrl-C to stop.\n",
            origins = origins.join(", "),
            acme = self.acme.address(),
            config = self.config_path.display(),
        )
    }
}

/// `address`, with port 0 replaced by a port free right now.
fn free_port(address: SocketAddr) -> std::io::Result<SocketAddr> {
    if address.port() != 0 {
        return Ok(address);
    }
    std::net::TcpListener::bind(address)?.local_addr()
}

/// The lab's HAProxy configuration, rule for rule, on loopback ports.
fn demo_config(ports: DemoPorts, cert: &Path, web1: SocketAddr, web2: SocketAddr, acme: SocketAddr) -> String {
    format!(
        r#"# Written by `switchyard demo`: the lab's HAProxy setup on loopback.

[[listener]]                      # frontend www-http
name = "www-http"
bind = "{http}"
plugins = ["forwarded-proto", "acme-challenge", "https-redirect"]

[[listener]]                      # frontend www-https
name = "www-https"
bind = "{https}"
tls = {{ cert = "{cert}" }}          # one PEM with certificate and key, as HAProxy takes it
plugins = ["forwarded-proto", "acme-challenge"]
default_backend = "www-backend"

[backend.www-backend]
balancer = "round-robin"
health_check = {{ method = "GET", path = "/health", expect_status = 200, interval = "2s", rise = 2, fall = 3 }}
servers = [
  {{ name = "web1", address = "{web1}" }},
  {{ name = "web2", address = "{web2}" }},
]

[backend.letsencrypt-backend]
servers = [{{ name = "letsencrypt", address = "{acme}" }}]

[plugin.forwarded-proto]
source = "builtin:forwarded-proto"

[plugin.acme-challenge]
source = "builtin:acme-challenge"
config = {{ backend = "letsencrypt-backend" }}

[plugin.https-redirect]
source = "builtin:https-redirect"
config = {{ port = {https_port}, status = 302 }}

[plugin.round-robin]
source = "builtin:round-robin"
"#,
        http = ports.http,
        https = ports.https,
        https_port = ports.https.port(),
        cert = cert.display(),
    )
}
