//! A plugin's shared state mirrored in Redis, so that several Switchyard
//! processes behind one address count together.
//!
//! A Redis round trip (tens of microseconds on loopback, more across a
//! network) must never happen inside a plugin call: that would block a
//! worker thread, or need wasmtime's async mode on every call. Instead the
//! local namespace stays the source of every answer, and a background
//! thread per plugin synchronises it with Redis every `state_sync`
//! interval in one pipelined round trip:
//!
//! - counters: the local additions since the last round are sent as
//!   `INCRBY` (after `SET .. 0 PX ttl NX`, so the window's expiry is set
//!   once, by whichever process starts it); the totals Redis answers
//!   replace the local values (plus what was added meanwhile). A limit is
//!   therefore exact within a process and overshoots across processes by
//!   at most what they admit in one interval.
//! - keys: writes and deletes go to Redis in the next round; a key read
//!   and not found locally is fetched, so it is seen one interval later.
//!
//! While Redis does not answer, every `shared` call fails (the plugin's
//! call traps and its `on_error` policy decides the request); additions
//! not yet sent are kept and sent when it answers again.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::log_throttle::ThrottledLog;

use crate::config::RemoteConfig;

/// How long to wait for Redis to accept a connection or answer a round.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
const IO_TIMEOUT: Duration = Duration::from_millis(500);

/// The local store that Redis's answers are written into: a plugin's
/// namespace (`shared_state.rs`), which stays the source of every answer.
pub trait Replica: Send + Sync {
    /// A counter's total as Redis has it (plus what was added since).
    fn apply_counter(&self, name: &str, total: i64, ttl: Duration);
    /// A key fetched from Redis, with its remaining time to live.
    fn apply_key(&self, key: &str, value: Vec<u8>, ttl: Duration);
}

/// The call that failed because Redis does not answer.
#[derive(Debug, thiserror::Error)]
#[error("shared state unavailable: Redis at {url} does not answer")]
pub struct StateUnavailable {
    /// The namespace's Redis.
    pub url: String,
}

/// A key write: the value and its ttl, or `None` for a delete.
type KeyWrite = (String, Option<(Vec<u8>, Duration)>);

/// What one process has changed and read since the last round.
#[derive(Default)]
struct Pending {
    /// Counter additions, with the ttl a new window gets.
    counters: HashMap<String, (i64, Duration)>,
    /// Key writes (`None`: delete), in order.
    writes: Vec<KeyWrite>,
    /// Counters read, refreshed from Redis.
    read_counters: HashSet<String>,
    /// Keys read and not found locally, fetched from Redis.
    read_keys: HashSet<String>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.counters.is_empty() && self.writes.is_empty() && self.read_counters.is_empty() && self.read_keys.is_empty()
    }

    /// Puts back what a failed round took.
    fn restore(&mut self, failed: Pending) {
        for (name, (delta, ttl)) in failed.counters {
            let entry = self.counters.entry(name).or_insert((0, ttl));
            entry.0 = entry.0.saturating_add(delta);
        }
        let newer = std::mem::replace(&mut self.writes, failed.writes);
        self.writes.extend(newer);
        self.read_counters.extend(failed.read_counters);
        self.read_keys.extend(failed.read_keys);
    }
}

/// One plugin's link to Redis.
pub struct Remote {
    config: RemoteConfig,
    /// `switchyard:PLUGIN:`: every key of the plugin starts with it.
    prefix: String,
    up: AtomicBool,
    stop: AtomicBool,
    pending: Mutex<Pending>,
}

impl Remote {
    /// Starts the synchronising thread for `namespace`; it ends when the
    /// namespace is dropped or [`Remote::stop`] is called.
    pub fn start(config: RemoteConfig, plugin: &str, namespace: Weak<dyn Replica>) -> Arc<Remote> {
        let remote = Arc::new(Remote {
            prefix: format!("switchyard:{plugin}:"),
            config,
            up: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            pending: Mutex::new(Pending::default()),
        });
        let syncer = Syncer {
            remote: Arc::clone(&remote),
            plugin: plugin.to_string(),
            namespace,
            connection: None,
            down_log: ThrottledLog::new(),
        };
        let spawned = std::thread::Builder::new()
            .name(format!("switchyard-redis-{plugin}"))
            .spawn(move || syncer.run());
        if let Err(e) = spawned {
            tracing::error!(plugin, error = %e, "cannot start the Redis synchroniser; shared state stays local");
        }
        remote
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether calls may use the shared state now.
    pub fn check(&self) -> Result<(), StateUnavailable> {
        if self.up.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(StateUnavailable {
                url: self.config.url.clone(),
            })
        }
    }

    fn with_pending<T>(&self, f: impl FnOnce(&mut Pending) -> T) -> T {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut pending)
    }

    pub fn added(&self, name: &str, delta: i64, ttl: Duration) {
        self.with_pending(|p| {
            let entry = p.counters.entry(name.to_string()).or_insert((0, ttl));
            entry.0 = entry.0.saturating_add(delta);
        });
    }

    pub fn read_counter(&self, name: &str) {
        self.with_pending(|p| {
            if !p.read_counters.contains(name) {
                p.read_counters.insert(name.to_string());
            }
        });
    }

    pub fn missed_key(&self, key: &str) {
        self.with_pending(|p| {
            if !p.read_keys.contains(key) {
                p.read_keys.insert(key.to_string());
            }
        });
    }

    pub fn wrote(&self, key: &str, value: Option<(Vec<u8>, Duration)>) {
        self.with_pending(|p| p.writes.push((key.to_string(), value)));
    }

    /// Additions made since the round that took the others.
    fn unsent(&self, name: &str) -> i64 {
        self.with_pending(|p| p.counters.get(name).map_or(0, |(delta, _)| *delta))
    }
}

struct Syncer {
    remote: Arc<Remote>,
    plugin: String,
    namespace: Weak<dyn Replica>,
    connection: Option<redis::Connection>,
    down_log: ThrottledLog,
}

impl Syncer {
    fn run(mut self) {
        let remote = Arc::clone(&self.remote);
        while !remote.stop.load(Ordering::Relaxed) {
            // A thread of its own, not a runtime worker.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(remote.config.sync_interval);
            let Some(namespace) = self.namespace.upgrade() else {
                return;
            };
            match self.round(&*namespace) {
                Ok(()) => {
                    if !remote.up.swap(true, Ordering::Relaxed) {
                        tracing::info!(plugin = %self.plugin, url = %remote.config.url, "Redis answers again: shared state is back");
                    }
                }
                Err(e) => {
                    self.connection = None;
                    if remote.up.swap(false, Ordering::Relaxed) {
                        tracing::warn!(plugin = %self.plugin, url = %remote.config.url, error = %e, "Redis does not answer: shared-state calls fail until it does");
                    } else if let Some(repeats) = self.down_log.tick() {
                        tracing::warn!(plugin = %self.plugin, url = %remote.config.url, error = %e, repeats, "Redis still does not answer");
                    }
                }
            }
        }
    }

    fn connection(&mut self) -> redis::RedisResult<&mut redis::Connection> {
        if self.connection.is_none() {
            let client = redis::Client::open(self.remote.config.url.as_str())?;
            let connection = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
            connection.set_read_timeout(Some(IO_TIMEOUT))?;
            connection.set_write_timeout(Some(IO_TIMEOUT))?;
            self.connection = Some(connection);
        }
        match self.connection.as_mut() {
            Some(connection) => Ok(connection),
            None => Err(redis::RedisError::from(std::io::Error::other("no connection"))),
        }
    }

    /// One pipelined round trip: send what changed, read back totals.
    fn round(&mut self, namespace: &dyn Replica) -> redis::RedisResult<()> {
        let remote = Arc::clone(&self.remote);
        let taken = remote.with_pending(std::mem::take);
        if taken.is_empty() && remote.up.load(Ordering::Relaxed) {
            return Ok(());
        }
        let result = self.exchange(&taken);
        match result {
            Ok(replies) => {
                self.apply(namespace, &taken, replies);
                Ok(())
            }
            Err(e) => {
                remote.with_pending(|p| p.restore(taken));
                Err(e)
            }
        }
    }

    fn exchange(&mut self, taken: &Pending) -> redis::RedisResult<Vec<redis::Value>> {
        let prefix = self.remote.prefix.clone();
        let mut pipe = redis::pipe();
        if taken.is_empty() {
            pipe.cmd("PING").ignore();
        }
        for (name, (delta, ttl)) in &taken.counters {
            let key = format!("{prefix}c:{name}");
            if !ttl.is_zero() {
                pipe.cmd("SET")
                    .arg(&key)
                    .arg(0)
                    .arg("PX")
                    .arg(ttl.as_millis() as u64)
                    .arg("NX")
                    .ignore();
            }
            pipe.cmd("INCRBY").arg(&key).arg(*delta);
        }
        for name in taken.read_counters.iter().filter(|n| !taken.counters.contains_key(*n)) {
            pipe.cmd("GET").arg(format!("{prefix}c:{name}"));
        }
        for (key, write) in &taken.writes {
            let key = format!("{prefix}k:{key}");
            match write {
                Some((value, ttl)) if !ttl.is_zero() => {
                    pipe.cmd("SET")
                        .arg(&key)
                        .arg(value.as_slice())
                        .arg("PX")
                        .arg(ttl.as_millis() as u64)
                        .ignore();
                }
                Some((value, _)) => {
                    pipe.cmd("SET").arg(&key).arg(value.as_slice()).ignore();
                }
                None => {
                    pipe.cmd("DEL").arg(&key).ignore();
                }
            }
        }
        for key in &taken.read_keys {
            let key = format!("{prefix}k:{key}");
            pipe.cmd("GET").arg(&key);
            pipe.cmd("PTTL").arg(&key);
        }
        let connection = self.connection()?;
        pipe.query(connection)
    }

    /// Replaces local values with Redis's totals, in the order the
    /// replies were asked for.
    fn apply(&self, namespace: &dyn Replica, taken: &Pending, replies: Vec<redis::Value>) {
        let mut replies = replies.into_iter();
        for (name, (_, ttl)) in &taken.counters {
            if let Some(Ok(total)) = replies.next().map(redis::from_redis_value::<i64>) {
                namespace.apply_counter(name, total.saturating_add(self.remote.unsent(name)), *ttl);
            }
        }
        for name in taken.read_counters.iter().filter(|n| !taken.counters.contains_key(*n)) {
            if let Some(Ok(total)) = replies.next().map(redis::from_redis_value::<Option<i64>>) {
                namespace.apply_counter(
                    name,
                    total.unwrap_or(0).saturating_add(self.remote.unsent(name)),
                    Duration::ZERO,
                );
            }
        }
        for key in &taken.read_keys {
            let value = replies.next().map(redis::from_redis_value::<Option<Vec<u8>>>);
            let ttl = replies.next().map(redis::from_redis_value::<i64>);
            if let (Some(Ok(Some(value))), Some(Ok(ttl))) = (value, ttl) {
                let ttl = if ttl > 0 {
                    Duration::from_millis(ttl as u64)
                } else {
                    Duration::ZERO
                };
                namespace.apply_key(key, value, ttl);
            }
        }
    }
}
