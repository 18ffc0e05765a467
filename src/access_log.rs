//! The access log: one line per request, as text or JSON, to stdout or a
//! file. The request path only tries to put the entry on a bounded channel;
//! a thread formats and writes. When the writer falls behind (a slow disk,
//! a blocked pipe), entries are dropped and counted
//! (`switchyard_access_log_dropped_total`), never waited for.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::{AccessLogConfig, AccessLogFormat};
use crate::metrics::metrics;

/// One request, as logged.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// The client's address.
    pub client: SocketAddr,
    /// The listener's name.
    pub listener: Arc<str>,
    /// Request method.
    pub method: String,
    /// Path and query, as received.
    pub target: String,
    /// `HTTP/1.1`, `HTTP/2` and the like.
    pub version: &'static str,
    /// Status sent to the client.
    pub status: u16,
    /// The response body's declared length, when it has one.
    pub bytes: Option<u64>,
    /// Time from request head to response head, in milliseconds.
    pub duration_ms: f64,
    /// The backend the request went to, if any.
    pub backend: Option<Arc<str>>,
    /// The server the request went to, if any.
    pub server: Option<Arc<str>>,
    /// The plugin that routed, answered or refused the request.
    pub plugin: Option<String>,
    /// The request's id, as sent in `x-request-id`.
    pub request_id: String,
    /// Who failed the request, when the proxy answered with an error
    /// (`client`, `plugin`, `upstream` or `proxy`).
    pub blame: Option<&'static str>,
}

impl Entry {
    /// The time now and `duration` in milliseconds, as an entry records them.
    pub fn now(duration: Duration) -> (String, f64) {
        (
            humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            duration.as_secs_f64() * 1000.0,
        )
    }

    fn text(&self) -> String {
        let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
        format!(
            "{} {} {} \"{} {} {}\" {} {} {:.3} {} {} {} {} {}\n",
            self.time,
            self.client,
            self.listener,
            self.method,
            self.target,
            self.version,
            self.status,
            self.bytes.map_or_else(|| "-".to_string(), |b| b.to_string()),
            self.duration_ms,
            or_dash(self.backend.as_deref()),
            or_dash(self.server.as_deref()),
            or_dash(self.plugin.as_deref()),
            self.request_id,
            or_dash(self.blame),
        )
    }
}

/// The request path's end of the log.
#[derive(Clone)]
pub struct AccessLog {
    sender: SyncSender<Entry>,
}

/// Why the access log could not start.
#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    /// The file cannot be opened for appending.
    #[error("cannot open the access log {}", .0.display())]
    Open(PathBuf, #[source] std::io::Error),
    /// The writer thread did not start.
    #[error("cannot start the access log writer")]
    Thread(#[source] std::io::Error),
}

impl AccessLog {
    /// Opens the output and starts the writer thread.
    pub fn start(config: &AccessLogConfig) -> Result<AccessLog, AccessLogError> {
        let out: Box<dyn Write + Send> = match &config.path {
            None => Box::new(std::io::stdout()),
            Some(path) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| AccessLogError::Open(path.clone(), e))?,
            ),
        };
        let (sender, receiver) = sync_channel(config.buffer.max(1));
        let format = config.format;
        std::thread::Builder::new()
            .name("switchyard-access-log".into())
            .spawn(move || write_entries(receiver, out, format))
            .map_err(AccessLogError::Thread)?;
        Ok(AccessLog { sender })
    }

    /// Queues an entry, or drops and counts it if the writer is behind.
    pub fn record(&self, entry: Entry) {
        match self.sender.try_send(entry) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                metrics().access_log_dropped.inc();
            }
        }
    }
}

fn write_entries(receiver: Receiver<Entry>, out: Box<dyn Write + Send>, format: AccessLogFormat) {
    let mut out = std::io::BufWriter::new(out);
    // Block for one entry, then take whatever else is queued, then flush.
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(entry) = next {
            let line = match format {
                AccessLogFormat::Text => entry.text(),
                AccessLogFormat::Json => serde_json::to_string(&entry).map(|j| j + "\n").unwrap_or_default(),
            };
            if out.write_all(line.as_bytes()).is_err() {
                metrics().access_log_dropped.inc();
            } else {
                metrics().access_log_lines.inc();
            }
            next = receiver.try_recv().ok();
        }
        let _ = out.flush();
    }
}
