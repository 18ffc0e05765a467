//! Real programs from Debian as peers: nginx as an origin, redis-server for
//! shared state. Neither can lose its socket to another process: Redis
//! listens on a Unix socket in a directory of its own; nginx counts as
//! started only when it answers with its own name, else it is started again
//! on another free port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A real nginx (Debian's package) as an origin process: `GET /health`
/// answers 200, everything else names the server in its body and in
/// `x-served-by`. Killing it is a real SIGKILL of a real process.
pub struct Nginx {
    child: Option<std::process::Child>,
    pub name: String,
    pub address: SocketAddr,
    _dir: tempfile::TempDir,
}

/// What an nginx serves besides its defaults (`/health` answers 200,
/// everything else names the server).
#[derive(Debug, Clone, Default)]
pub struct NginxSite {
    /// Parameters of `listen` after the address: `ssl`, `http2`, `ssl http2`.
    pub listen: String,
    /// More directives of the `server` block (certificates...).
    pub directives: String,
    /// More directives of `location /` (headers...).
    pub location: String,
}

impl Nginx {
    /// Starts nginx on `address`; port 0 picks a free one. A free port can
    /// be taken by another process between our probe and nginx's bind (and
    /// nginx 1.22 crashes when handed an inherited socket without a master
    /// process), so a start counts only when this very nginx answers with
    /// its own name, and a start that lost the port is retried on another.
    pub async fn start(name: &str, address: SocketAddr) -> Nginx {
        Nginx::start_site(name, address, &NginxSite::default()).await
    }

    /// Starts nginx serving `site` (TLS, HTTP/2, more directives).
    pub async fn start_site(name: &str, address: SocketAddr, site: &NginxSite) -> Nginx {
        for _ in 0..5 {
            let candidate = if address.port() == 0 {
                std::net::TcpListener::bind(address).unwrap().local_addr().unwrap()
            } else {
                address
            };
            if let Some(nginx) = Nginx::try_start(name, candidate, site).await {
                return nginx;
            }
            assert_eq!(address.port(), 0, "nginx could not listen on {address}");
        }
        panic!("nginx did not start on any of 5 free ports");
    }

    async fn try_start(name: &str, address: SocketAddr, site: &NginxSite) -> Option<Nginx> {
        let NginxSite {
            listen,
            directives,
            location,
        } = site;
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
        listen {address} {listen};
        {directives}
        location = /health {{ return 200 "ok\n"; }}
        location / {{
            add_header x-served-by {name} always;
            {location}
            return 200 "Served by {name}\n";
        }}
    }}
}}
"#
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut child = std::process::Command::new("nginx")
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
        let client = super::Client::new("");
        let url = format!("http://{address}/");
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                // It exited: the port was taken.
                return None;
            }
            if listen.is_empty() {
                let answer = client
                    .send(http::Request::get(&url).body(Default::default()).unwrap())
                    .await;
                if answer.is_ok_and(|reply| reply.served_by() == name) {
                    break;
                }
            } else if tokio::net::TcpStream::connect(address).await.is_ok() {
                // TLS or HTTP/2 only: it listens, and it is still ours a
                // moment later (nginx exits at once when the port is taken).
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Ok(None) = child.try_wait() {
                    break;
                }
                return None;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx answers on {address}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Some(Nginx {
            child: Some(child),
            name: name.to_string(),
            address,
            _dir: dir,
        })
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

/// A real `redis-server` (Debian's), with no persistence, listening on a
/// Unix socket in a directory of its own (no TCP port to race for); killed
/// when dropped.
pub struct RedisServer {
    child: std::process::Child,
    pub socket: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut redis = RedisServer::start_at(&dir.path().join("redis.sock"));
        redis._dir = Some(dir);
        redis
    }

    /// On the socket of an earlier one (to bring it back where it was).
    pub fn start_again(previous: &RedisServer) -> RedisServer {
        RedisServer::start_at(&previous.socket)
    }

    fn start_at(socket: &std::path::Path) -> RedisServer {
        let child = std::process::Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(socket)
            .args(["--unixsocketperm", "700", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server listens on {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer {
            child,
            socket: socket.to_path_buf(),
            _dir: None,
        }
    }

    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
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
