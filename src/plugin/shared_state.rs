//! The `shared` interface: counters and a key-value store with expiry that
//! every instance of a plugin sees, in a namespace per plugin name. The
//! namespaces belong to the engine, so they outlive hot swaps and reloads
//! (a rate limiter's windows do not reset when its plugin is updated).
//!
//! A namespace is split into shards, each behind its own short-held lock,
//! so instances on different worker threads rarely meet. Expired entries
//! read as absent and are swept as a shard is used; a namespace is capped
//! in entries and in key and value sizes, so a plugin cannot take the
//! proxy's memory.
//!
//! With `state_redis` configured, a namespace is also mirrored in Redis by
//! a background thread (see `remote_state.rs`), and its operations fail
//! while Redis does not answer.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::log_throttle::ThrottledLog;

use super::remote_state::{Remote, Replica, StateUnavailable};
use crate::config::RemoteConfig;

const SHARDS: usize = 16;
/// Longest key or counter name, in bytes.
pub const MAX_KEY: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 64 << 10;
/// Operations on a shard between two sweeps of its expired entries.
const SWEEP_EVERY: u32 = 1024;

/// Every plugin's namespace, by plugin name.
#[derive(Default)]
pub struct SharedStates {
    namespaces: Mutex<HashMap<String, Arc<Namespace>>>,
}

impl SharedStates {
    /// The namespace of `plugin`, created on first use; `max_entries` and
    /// the Redis link are updated to the latest configuration's.
    pub fn namespace(&self, plugin: &str, max_entries: usize, remote: Option<&RemoteConfig>) -> Arc<Namespace> {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
        let namespace = Arc::clone(
            namespaces
                .entry(plugin.to_string())
                .or_insert_with(|| Arc::new(Namespace::new(plugin, max_entries))),
        );
        namespace.max_entries.store(max_entries, Ordering::Relaxed);
        namespace.link(remote);
        namespace
    }
}

enum Value {
    Counter(i64),
    Bytes(Vec<u8>),
}

struct Entry {
    value: Value,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    ops: u32,
}

/// One plugin's counters and keys, seen by all its instances.
pub struct Namespace {
    plugin: String,
    shards: [Mutex<Shard>; SHARDS],
    count: AtomicUsize,
    max_entries: AtomicUsize,
    full: ThrottledLog,
    remote: ArcSwapOption<Remote>,
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("plugin", &self.plugin)
            .field("entries", &self.len())
            .finish()
    }
}

impl Namespace {
    fn new(plugin: &str, max_entries: usize) -> Namespace {
        Namespace {
            plugin: plugin.to_string(),
            shards: Default::default(),
            count: AtomicUsize::new(0),
            max_entries: AtomicUsize::new(max_entries),
            full: ThrottledLog::new(),
            remote: ArcSwapOption::empty(),
        }
    }

    /// The plugin it belongs to.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    /// Starts, changes or ends the mirroring in Redis.
    fn link(self: &Arc<Self>, config: Option<&RemoteConfig>) {
        let current = self.remote.load_full();
        if current.as_ref().map(|r| r.config()) == config {
            return;
        }
        if let Some(old) = current {
            old.stop();
        }
        let new = config.map(|c| {
            let replica: std::sync::Weak<dyn Replica> = Arc::downgrade(self) as std::sync::Weak<dyn Replica>;
            Remote::start(c.clone(), &self.plugin, replica)
        });
        self.remote.store(new);
    }

    /// The Redis link, if any, when it may be used.
    fn remote(&self) -> Result<Option<Arc<Remote>>, StateUnavailable> {
        match self.remote.load_full() {
            Some(remote) => remote.check().map(|()| Some(remote)),
            None => Ok(None),
        }
    }

    /// Entries held now (expired ones included until swept).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `shared.counter-add`: adds `delta` and gives the new value; a new
    /// counter expires `ttl` after its creation (zero: never).
    pub fn counter_add(&self, name: &str, delta: i64, ttl: Duration) -> Result<i64, StateUnavailable> {
        if name.len() > MAX_KEY {
            return Ok(0);
        }
        let remote = self.remote()?;
        let value = self.local_counter_add(name, delta, ttl);
        if let Some(remote) = remote {
            remote.added(name, delta, ttl);
        }
        Ok(value)
    }

    fn local_counter_add(&self, name: &str, delta: i64, ttl: Duration) -> i64 {
        self.with_shard(name, |shard, now| {
            if let Some(entry) = shard.entries.get_mut(name).filter(|e| e.live(now)) {
                if let Value::Counter(value) = &mut entry.value {
                    *value = value.saturating_add(delta);
                    return *value;
                }
            }
            let entry = Entry {
                value: Value::Counter(delta),
                expires: expiry(now, ttl),
            };
            if self.insert(shard, name, entry) {
                delta
            } else {
                0
            }
        })
    }

    /// `shared.counter-get`: the counter's value, 0 when absent.
    pub fn counter_get(&self, name: &str) -> Result<i64, StateUnavailable> {
        if let Some(remote) = self.remote()? {
            remote.read_counter(name);
        }
        Ok(self.with_shard(name, |shard, now| match shard.entries.get(name) {
            Some(Entry {
                value: Value::Counter(value),
                expires,
            }) if expires.is_none_or(|at| at > now) => *value,
            _ => 0,
        }))
    }

    /// `shared.get`: the value stored under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StateUnavailable> {
        let remote = self.remote()?;
        let found = self.with_shard(key, |shard, now| match shard.entries.get(key) {
            Some(Entry {
                value: Value::Bytes(bytes),
                expires,
            }) if expires.is_none_or(|at| at > now) => Some(bytes.clone()),
            _ => None,
        });
        if let (None, Some(remote)) = (&found, remote) {
            remote.missed_key(key);
        }
        Ok(found)
    }

    /// `shared.set`: stores `value` under `key`, expiring after `ttl` (zero: never).
    pub fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StateUnavailable> {
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Ok(());
        }
        let remote = self.remote()?;
        if let Some(remote) = remote {
            remote.wrote(key, Some((value.clone(), ttl)));
        }
        self.apply_key(key, value, ttl);
        Ok(())
    }

    /// `shared.delete`: removes a key or counter.
    pub fn delete(&self, key: &str) -> Result<(), StateUnavailable> {
        if let Some(remote) = self.remote()? {
            remote.wrote(key, None);
        }
        self.with_shard(key, |shard, _| {
            if shard.entries.remove(key).is_some() {
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }

    /// Stores a key locally (from a plugin, or fetched from Redis).
    pub(super) fn apply_key(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        self.with_shard(key, |shard, now| {
            let entry = Entry {
                value: Value::Bytes(value),
                expires: expiry(now, ttl),
            };
            self.insert(shard, key, entry);
        });
    }

    /// Sets a counter to the total Redis knows; a new local counter gets
    /// `ttl`, an existing one keeps its expiry.
    pub(super) fn apply_counter(&self, name: &str, total: i64, ttl: Duration) {
        self.with_shard(name, |shard, now| {
            if let Some(entry) = shard.entries.get_mut(name).filter(|e| e.live(now)) {
                entry.value = Value::Counter(total);
                return;
            }
            let entry = Entry {
                value: Value::Counter(total),
                expires: expiry(now, ttl),
            };
            self.insert(shard, name, entry);
        });
    }

    /// Inserts or replaces; a new key past the cap is dropped (false).
    fn insert(&self, shard: &mut Shard, key: &str, entry: Entry) -> bool {
        if let Some(existing) = shard.entries.get_mut(key) {
            *existing = entry;
            return true;
        }
        if self.count.load(Ordering::Relaxed) >= self.max_entries.load(Ordering::Relaxed) {
            if let Some(dropped) = self.full.tick() {
                tracing::warn!(plugin = %self.plugin, dropped, "shared state full: new keys dropped until entries expire");
            }
            return false;
        }
        shard.entries.insert(key.to_string(), entry);
        self.count.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn with_shard<T>(&self, key: &str, operation: impl FnOnce(&mut Shard, Instant) -> T) -> T {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let index = (hasher.finish() as usize) % SHARDS;
        // A poisoned shard (a panic while it was held) is still consistent
        // enough to use: every operation leaves it whole.
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        shard.ops += 1;
        if shard.ops >= SWEEP_EVERY {
            shard.ops = 0;
            let before = shard.entries.len();
            shard.entries.retain(|_, entry| entry.live(now));
            self.count.fetch_sub(before - shard.entries.len(), Ordering::Relaxed);
        }
        operation(&mut shard, now)
    }
}

impl Replica for Namespace {
    fn apply_counter(&self, name: &str, total: i64, ttl: Duration) {
        Namespace::apply_counter(self, name, total, ttl);
    }

    fn apply_key(&self, key: &str, value: Vec<u8>, ttl: Duration) {
        Namespace::apply_key(self, key, value, ttl);
    }
}

fn expiry(now: Instant, ttl: Duration) -> Option<Instant> {
    (!ttl.is_zero()).then(|| now + ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_keys_expiry_and_the_cap() {
        let states = SharedStates::default();
        let ns = states.namespace("limiter", 3, None);
        assert_eq!(ns.counter_add("a", 2, Duration::ZERO).unwrap(), 2);
        assert_eq!(ns.counter_add("a", 3, Duration::ZERO).unwrap(), 5);
        assert_eq!(ns.counter_get("a").unwrap(), 5);
        ns.set("k", b"v".to_vec(), Duration::from_millis(20)).unwrap();
        assert_eq!(ns.get("k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(ns.counter_get("k").unwrap(), 0, "a value is not a counter");
        ns.set("full", b"1".to_vec(), Duration::ZERO).unwrap();
        ns.set("dropped", b"1".to_vec(), Duration::ZERO).unwrap();
        assert_eq!(ns.get("dropped").unwrap(), None, "past the cap");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ns.get("k").unwrap(), None, "expired");
        ns.delete("a").unwrap();
        assert_eq!(ns.counter_get("a").unwrap(), 0);
        // The same name gets the same namespace; another name another one.
        assert_eq!(states.namespace("limiter", 3, None).counter_get("full").unwrap(), 0);
        assert!(Arc::ptr_eq(&ns, &states.namespace("limiter", 3, None)));
        assert!(!Arc::ptr_eq(&ns, &states.namespace("other", 3, None)));
    }

    #[test]
    fn counter_windows_restart_after_their_ttl() {
        let ns = SharedStates::default().namespace("p", 100, None);
        assert_eq!(ns.counter_add("w", 1, Duration::from_millis(20)).unwrap(), 1);
        assert_eq!(ns.counter_add("w", 1, Duration::from_millis(20)).unwrap(), 2);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            ns.counter_add("w", 1, Duration::from_millis(20)).unwrap(),
            1,
            "a new window"
        );
    }
}
