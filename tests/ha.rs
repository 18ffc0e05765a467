//! The keepalived pair of `examples/ha/`, rehearsed by its own script in
//! network namespaces (a client, two Switchyard nodes, the origins, a
//! bridge; keepalived, nginx and Redis from Debian), under steady load from
//! the client's namespace (`examples/ha/load.py`, a new connection per
//! request). Needs root, as CI has.
//!
//! - A crash (SIGKILL) of the active node's Switchyard, ten times: how
//!   long new connections fail (asserted under 3 s each), and that nothing
//!   is lost outside those windows; the node comes back without taking the
//!   address back (nopreempt: no flapping).
//! - A planned stop (SIGTERM, the handover), ten times: nothing fails but a
//!   connection open at the very instant the address moves.
//! - The rate limit, counted in Redis, holds across a failover (the new
//!   holder may admit one request before it has read the count).
//! - keepalived's check takes a node out when its Switchyard has no
//!   healthy server, and puts it back.
//! - With preemption configured, the preferred node takes the address back
//!   once when it returns.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One pair at a time: each runs two keepalived, two proxies, nginx and
/// Redis, and its timings are what is measured.
static SERIAL: Mutex<()> = Mutex::new(());

const VIP: &str = "10.77.0.100";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ha/rehearse.sh")
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A rehearsal pair, removed (processes by PID, namespaces) when dropped.
struct Pair {
    dir: tempfile::TempDir,
    prefix: String,
}

impl Pair {
    fn up(name: &str, env: &[(&str, &str)]) -> Pair {
        assert!(
            Command::new("id")
                .arg("-u")
                .output()
                .map(|o| o.stdout == b"0\n")
                .unwrap_or(false),
            "the HA rehearsal needs root (network namespaces)"
        );
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("sy{}{name}", std::process::id() % 10_000);
        let pair = Pair { dir, prefix };
        let mut up = Command::new("bash");
        up.arg(script())
            .arg("up")
            .arg(pair.dir.path())
            .env("PREFIX", &pair.prefix)
            .env("SWITCHYARD", env!("CARGO_BIN_EXE_switchyard"))
            .env("RATE_LIMIT_WASM", support::rust_example("rate_limit"));
        for (k, v) in env {
            up.env(k, v);
        }
        run(&mut up);
        pair
    }

    fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.prefix)
    }

    fn holder(&self) -> String {
        run(Command::new("bash").arg(script()).arg("holder").arg(self.dir.path()))
    }

    /// The PID of a node's Switchyard (the last one started).
    fn pid(&self, node: &str) -> String {
        let pids = std::fs::read_to_string(self.dir.path().join("pids")).unwrap();
        let name = format!("switchyard-{node}");
        pids.lines()
            .rev()
            .filter_map(|l| {
                l.split_once(' ')
                    .filter(|(n, _)| *n == name)
                    .map(|(_, p)| p.to_string())
            })
            .next()
            .expect("started")
    }

    /// Sends `signal` to a node's Switchyard; the time it was sent.
    fn signal(&self, node: &str, signal: &str) -> f64 {
        let pid = self.pid(node);
        run(Command::new("kill").arg(format!("-{signal}")).arg(&pid));
        now()
    }

    fn exited(&self, node: &str) -> bool {
        !Command::new("kill")
            .arg("-0")
            .arg(self.pid(node))
            .status()
            .unwrap()
            .success()
    }

    fn ready(&self, node: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(node), env!("CARGO_BIN_EXE_switchyard")])
            .args(["status", "--ready", "--admin", "127.0.0.1:9901"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// Starts a node's Switchyard again and waits until it is ready.
    fn restart(&self, node: &str) {
        run(Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(node)
            .arg(self.dir.path()));
        wait(Duration::from_secs(60), &format!("node {node} ready"), || {
            self.ready(node)
        });
    }

    /// keepalived's transitions on a node: (time, state).
    fn transitions(&self, node: &str) -> Vec<(String, String)> {
        std::fs::read_to_string(self.dir.path().join(node).join("vrrp.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                let at = words.next()?.to_string();
                let state = words.nth(1)?.to_string();
                Some((at, state))
            })
            .collect()
    }

    /// `curl` from the client's namespace: the status code.
    fn curl(&self, url: &str, headers: &[&str]) -> String {
        let mut curl = Command::new("ip");
        curl.args([
            "netns",
            "exec",
            &self.ns("client"),
            "curl",
            "-s",
            "-m",
            "2",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{http_code}"]);
        for h in headers {
            curl.args(["-H", h]);
        }
        String::from_utf8_lossy(&curl.arg(url).output().unwrap().stdout).into_owned()
    }

    fn load(&self, workers: usize) -> Load {
        let out = self.dir.path().join(format!("load-{}.txt", now()));
        let stop = out.with_extension("stop");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns("client"), "python3"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ha/load.py"))
            .arg(format!("http://{VIP}/"))
            .args(["--workers", &workers.to_string(), "--timeout", "2"])
            .arg("--out")
            .arg(&out)
            .arg("--stop-file")
            .arg(&stop)
            .spawn()
            .unwrap();
        Load { child, out, stop }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What keepalived and the nodes saw, for the failure's report.
            for file in [
                "a/vrrp.log",
                "b/vrrp.log",
                "a/keepalived.log",
                "b/keepalived.log",
                "a/switchyard.log",
                "b/switchyard.log",
            ] {
                let text = std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(25).collect();
                eprintln!("--- {file} (last lines)");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        let _ = Command::new("bash")
            .arg(script())
            .arg("down")
            .arg(self.dir.path())
            .status();
    }
}

fn wait(limit: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

struct Load {
    child: Child,
    out: PathBuf,
    stop: PathBuf,
}

/// One request of the load: start, end, and whether it got a 2xx.
#[derive(Debug, Clone)]
struct Row {
    start: f64,
    end: f64,
    result: String,
}

impl Row {
    fn ok(&self) -> bool {
        self.result.starts_with('2')
    }
}

impl Load {
    fn finish(mut self) -> Vec<Row> {
        std::fs::write(&self.stop, b"").unwrap();
        assert!(self.child.wait().unwrap().success());
        std::fs::read_to_string(&self.out)
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some(Row {
                    start: w.next()?.parse().ok()?,
                    end: w.next()?.parse().ok()?,
                    result: w.next()?.to_string(),
                })
            })
            .collect()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn worst(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

fn other(node: &str) -> &'static str {
    if node == "a" {
        "b"
    } else {
        "a"
    }
}

#[test]
fn a_crash_fails_over_within_three_seconds_and_the_node_returns_without_flapping() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pair = Pair::up("k", &[]);
    let load = pair.load(8);
    std::thread::sleep(Duration::from_secs(1));
    let mut kills = Vec::new();
    for _ in 0..10 {
        let active = pair.holder();
        assert!(active == "a" || active == "b", "{active}");
        let at = pair.signal(&active, "KILL");
        let moved = wait(Duration::from_secs(5), "the address on the other node", || {
            pair.holder() == other(&active)
        });
        kills.push((at, moved));
        std::thread::sleep(Duration::from_secs(2));
        pair.restart(&active);
        // Back and healthy, it stays BACKUP: no second failover.
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(
            pair.holder(),
            other(&active),
            "the returning node took the address back"
        );
        let states = pair.transitions(&active);
        assert_eq!(states.last().map(|(_, s)| s.as_str()), Some("BACKUP"), "{states:?}");
    }
    let rows = load.finish();

    // Each crash: requests in flight on the dead node are lost; new ones
    // fail (refused) or stall until the address has moved; then all is well.
    let mut outages = Vec::new();
    let mut lost = Vec::new();
    let mut failed_new = Vec::new();
    for (at, moved) in &kills {
        let near: Vec<&Row> = rows.iter().filter(|r| r.end >= *at && r.start < at + 5.0).collect();
        let in_flight = near.iter().filter(|r| r.start < *at && !r.ok()).count();
        let disrupted: Vec<&&Row> = near
            .iter()
            .filter(|r| r.start >= *at && (!r.ok() || r.end - r.start > 0.3))
            .collect();
        let outage = disrupted.iter().map(|r| r.end - at).fold(0.0, f64::max);
        assert!(
            outage <= 3.0,
            "new connections failed or stalled for {outage:.2} s after a crash (address moved in {moved:?})"
        );
        outages.push(outage);
        lost.push(in_flight as f64);
        failed_new.push(disrupted.iter().filter(|r| !r.ok()).count() as f64);
    }
    // Nothing failed but around a crash.
    let stray: Vec<&Row> = rows
        .iter()
        .filter(|r| !r.ok() && !kills.iter().any(|(at, _)| r.end >= at - 0.05 && r.start <= at + 3.0))
        .collect();
    assert!(
        stray.is_empty(),
        "{} failures away from any crash; the first: {:?}",
        stray.len(),
        &stray[..stray.len().min(10)]
    );
    assert!(
        rows.len() > 10_000,
        "the load ran through the crashes: {} requests",
        rows.len()
    );
    eprintln!(
        "SIGKILL x{}: {} requests; outage (kill to the last failed or stalled new request) median {:.3} s, worst {:.3} s; \
         in-flight lost per crash median {}, worst {}; new requests failed per crash median {}, worst {}",
        kills.len(),
        rows.len(),
        median(outages.clone()),
        worst(&outages),
        median(lost.clone()),
        worst(&lost),
        median(failed_new.clone()),
        worst(&failed_new)
    );
}

#[test]
fn a_planned_stop_hands_the_address_over_losing_at_most_what_straddles_the_move() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pair = Pair::up("t", &[]);
    let load = pair.load(8);
    std::thread::sleep(Duration::from_secs(1));
    let mut stops = Vec::new();
    for _ in 0..10 {
        let active = pair.holder();
        assert!(active == "a" || active == "b", "{active}");
        let at = pair.signal(&active, "TERM");
        let moved = wait(Duration::from_secs(5), "the address on the other node", || {
            pair.holder() == other(&active)
        });
        let exited = wait(Duration::from_secs(20), "the stopped node exits", || {
            pair.exited(&active)
        });
        assert!(
            moved < exited,
            "the address moved ({moved:?}) before the node stopped ({exited:?})"
        );
        stops.push((at, moved, exited));
        pair.restart(&active);
        std::thread::sleep(Duration::from_secs(3));
        assert_eq!(pair.holder(), other(&active), "no second failover");
    }
    let rows = load.finish();
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.ok()).collect();
    // What a planned stop can still lose: a connection open at the instant
    // the address moves sends its next packets to the new holder, which
    // knows nothing of it and resets it. On a quiet machine none did in 20
    // of 20 handovers; under the whole suite's load requests last longer
    // and a few straddle the move (3 in 10 handovers measured). Anything
    // else fails the test, and so do more than one per handover on
    // average (a stop without the handover failed 9,215 of 58,776).
    let moved_at: Vec<f64> = stops.iter().map(|(at, moved, _)| at + moved.as_secs_f64()).collect();
    let stray: Vec<&&Row> = failed
        .iter()
        .filter(|r| !moved_at.iter().any(|m| r.start <= m + 0.5 && r.end >= m - 0.5))
        .collect();
    assert!(
        stray.is_empty() && failed.len() <= stops.len(),
        "{} of {} requests failed ({} away from any move of the address); the first: {:?}",
        failed.len(),
        rows.len(),
        stray.len(),
        &failed[..failed.len().min(10)]
    );
    // The stops overlapped the load: requests were served during each
    // handover, before and after the address moved.
    for (at, moved, _) in &stops {
        let moved_at = at + moved.as_secs_f64();
        let before = rows.iter().filter(|r| r.start >= *at && r.end < moved_at).count();
        let after = rows.iter().filter(|r| r.start > moved_at && r.start < at + 3.0).count();
        assert!(
            before > 0 && after > 0,
            "load around a handover: {before} before, {after} after the move"
        );
    }
    let moves: Vec<f64> = stops.iter().map(|(_, m, _)| m.as_secs_f64()).collect();
    eprintln!(
        "SIGTERM x{}: {} requests, {} failed; address moved after median {:.3} s, worst {:.3} s (handover_delay 3 s)",
        stops.len(),
        rows.len(),
        failed.len(),
        median(moves.clone()),
        worst(&moves)
    );
}

#[test]
fn the_rate_limit_counted_in_redis_holds_across_a_failover() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pair = Pair::up("r", &[]);
    let api = format!("http://{VIP}:8080/");
    let first = pair.holder();
    for i in 0..5 {
        assert_eq!(pair.curl(&api, &["x-api-key: over"]), "200", "request {i}");
    }
    assert_eq!(
        pair.curl(&api, &["x-api-key: over"]),
        "429",
        "over its limit on node {first}"
    );
    // The counts reach Redis every state_sync (20 ms): a crash loses at
    // most what was added in the last one.
    std::thread::sleep(Duration::from_millis(200));
    pair.signal(&first, "KILL");
    wait(Duration::from_secs(5), "the address on the other node", || {
        pair.holder() == other(&first)
    });
    // Node b has never seen this key: its first request is counted
    // locally and may pass (B learns Redis's total one state_sync later,
    // as HAProxy's stick tables learn their peers'); from then on the
    // client is limited. Without the shared count it would get 5 more.
    let answers: Vec<String> = (0..5)
        .map(|_| {
            let answer = pair.curl(&api, &["x-api-key: over"]);
            std::thread::sleep(Duration::from_millis(100));
            answer
        })
        .collect();
    let admitted = answers.iter().filter(|a| *a == "200").count();
    assert!(
        admitted <= 1 && answers[1..].iter().all(|a| a == "429"),
        "still over its limit on node {}: {answers:?}",
        other(&first)
    );
    assert_eq!(
        pair.curl(&api, &["x-api-key: fresh"]),
        "200",
        "another key is not limited"
    );
}

#[test]
fn keepalived_takes_a_node_without_healthy_servers_out_and_puts_it_back() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pair = Pair::up("h", &[]);
    let active = pair.holder();
    let ns = pair.ns(&active);
    // The active node loses its way to both origins.
    for origin in ["10.77.0.21", "10.77.0.22"] {
        run(Command::new("ip").args(["-n", &ns, "route", "add", "blackhole", origin]));
    }
    let out = wait(
        Duration::from_secs(15),
        "the address away from the node without servers",
        || pair.holder() == other(&active),
    );
    assert!(!pair.ready(&active));
    let states = pair.transitions(&active);
    assert_eq!(states.last().map(|(_, s)| s.as_str()), Some("FAULT"), "{states:?}");
    assert_eq!(
        pair.curl(&format!("http://{VIP}/"), &[]),
        "200",
        "served by the other node"
    );
    // Its servers come back: the node is ready and BACKUP again.
    for origin in ["10.77.0.21", "10.77.0.22"] {
        run(Command::new("ip").args(["-n", &ns, "route", "del", "blackhole", origin]));
    }
    let back = wait(Duration::from_secs(15), "the node back as BACKUP", || {
        pair.transitions(&active).last().map(|(_, s)| s.as_str()) == Some("BACKUP")
    });
    assert!(pair.ready(&active));
    assert_eq!(pair.holder(), other(&active));
    eprintln!("no healthy server: out after {out:?}; servers back: BACKUP after {back:?}");
}

#[test]
fn with_preemption_the_preferred_node_takes_the_address_back_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let pair = Pair::up("p", &[("PREEMPT", "1")]);
    // Node a has the higher priority: it holds the address.
    wait(Duration::from_secs(10), "node a holding the address", || {
        pair.holder() == "a"
    });
    pair.signal("a", "KILL");
    wait(Duration::from_secs(5), "the address on node b", || pair.holder() == "b");
    let masters_before = pair.transitions("a").iter().filter(|(_, s)| s == "MASTER").count();
    pair.restart("a");
    // preempt_delay 2 s after a is back, it takes the address back, once.
    wait(Duration::from_secs(15), "node a taking the address back", || {
        pair.holder() == "a"
    });
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(pair.holder(), "a");
    let masters = pair.transitions("a").iter().filter(|(_, s)| s == "MASTER").count();
    assert_eq!(masters, masters_before + 1, "{:?}", pair.transitions("a"));
    let b = pair.transitions("b");
    assert_eq!(b.last().map(|(_, s)| s.as_str()), Some("BACKUP"), "{b:?}");
}
