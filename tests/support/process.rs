//! `switchyard run` as a real child process.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

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
        self.status_kib("VmRSS:")
    }

    /// The most it was ever resident (the kernel's high-water mark).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or_else(|| panic!("the proxy's {field} is readable in /proc"))
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
