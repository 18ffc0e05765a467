//! Every default of the configuration, named once.

use std::time::Duration;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const RETRIES: u32 = 3;
pub(crate) const UPSTREAM_H2_MAX_STREAMS: u32 = 100;
pub(crate) const TUNNEL_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
pub(crate) const MAX_TUNNELS: usize = 10_000;
/// Above the concurrency one server usually sees: a smaller cap closes and
/// reopens connections under load (HTTP/2 with 500 streams churned ~500
/// connections in 10 s at 128). `idle_timeout` still retires idle ones.
pub(crate) const MAX_IDLE_PER_SERVER: usize = 1024;
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(2);
pub(crate) const CHECK_RISE: u32 = 2;
pub(crate) const CHECK_FALL: u32 = 3;
pub(crate) const PLUGIN_TIMEOUT: Duration = Duration::from_millis(10);
pub(crate) const PLUGIN_MEMORY: usize = 32 << 20;
pub(crate) const PLUGIN_MAX_CALLS: u64 = 1_000_000;
/// Idle instances kept per plugin version: more than the worker threads
/// that call it at once, so none is started and dropped in steady state.
pub(crate) const PLUGIN_POOL_SIZE: usize = 64;
pub(crate) const PLUGIN_STATE_ENTRIES: usize = 100_000;
pub(crate) const PLUGIN_STATE_SYNC: Duration = Duration::from_millis(20);
pub(crate) const PLUGIN_MAX_BODY_BUFFER: usize = 64 << 10;
pub(crate) const PLUGIN_ASK_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const PLUGIN_ASK_MAX_BODY: usize = 64 << 10;
pub(crate) const PLUGIN_MAX_ASKS: u32 = 4;
pub(crate) const MAX_WEIGHT: u32 = 256;
pub(crate) const MAX_CONNECTIONS: usize = 10_000;
pub(crate) const MAX_IN_FLIGHT: usize = 10_000;
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
pub(crate) const HANDOVER_DELAY: Duration = Duration::ZERO;
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const MAX_HEADER_BYTES: usize = 64 << 10;
pub(crate) const MAX_HEADERS: usize = 100;
pub(crate) const H2_MAX_STREAMS: u32 = 100;
pub(crate) const PASSIVE_FAILURES: u32 = 3;
pub(crate) const PASSIVE_COOLDOWN: Duration = Duration::from_secs(10);
pub(crate) const PANIC_THRESHOLD: f64 = 0.5;
pub(crate) const RETRY_RATIO: f64 = 0.2;
pub(crate) const RETRY_MIN_PER_SECOND: u32 = 10;
