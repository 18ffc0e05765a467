//! File watching (notify): the directories holding the configuration file,
//! plugin components and certificates are watched, because editors, deploy
//! tools and certbot replace files by rename or by retargeting a symlink,
//! which a watch on the file itself would miss. Bursts of events are
//! debounced, then the reloader is called once for what changed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{watch_key, Reloader, WatchTarget};

/// Quiet time that ends a burst of events.
const SETTLE: Duration = Duration::from_millis(100);
/// The longest a burst is allowed to delay a reload.
const MAX_DELAY: Duration = Duration::from_millis(500);

/// Starts watching; stops when `shutdown` fires.
pub fn spawn_watcher(reloader: Arc<Reloader>, shutdown: CancellationToken) -> notify::Result<()> {
    let (events, mut incoming) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = events.send(event);
    })?;
    let mut watched_dirs: Vec<PathBuf> = Vec::new();
    let mut targets = targets_of(&reloader);
    watch_dirs(&mut watcher, &mut watched_dirs, &targets);
    tokio::spawn(async move {
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => return,
                event = incoming.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            let changed = settle(first, &mut incoming, &targets).await;
            if changed.is_empty() {
                continue;
            }
            if changed.contains(&WatchTarget::Config) {
                let _ = reloader.reload_config("configuration file changed").await;
            } else if changed.contains(&WatchTarget::Plugin) {
                let _ = reloader.reload_plugins("plugin file changed").await;
            }
            if changed.contains(&WatchTarget::Certificate) {
                reloader.reload_certificates().await;
            }
            // The configuration may name other files now.
            targets = targets_of(&reloader);
            watch_dirs(&mut watcher, &mut watched_dirs, &targets);
        }
    });
    Ok(())
}

type Targets = HashMap<(PathBuf, OsString), WatchTarget>;
type Events = mpsc::UnboundedReceiver<notify::Result<notify::Event>>;

/// The targets a burst of events touches: `first`, then every event until
/// [`SETTLE`] passes without one, but no later than [`MAX_DELAY`] after
/// `first` (a file rewritten without pause still reloads).
async fn settle(first: notify::Result<notify::Event>, incoming: &mut Events, targets: &Targets) -> Vec<WatchTarget> {
    let mut changed = Vec::new();
    collect(first, targets, &mut changed);
    let deadline = tokio::time::Instant::now() + MAX_DELAY;
    while let Ok(Some(event)) =
        tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + SETTLE), incoming.recv()).await
    {
        collect(event, targets, &mut changed);
    }
    changed
}

fn targets_of(reloader: &Reloader) -> Targets {
    reloader
        .watched_files()
        .into_iter()
        .filter_map(|(path, target)| watch_key(&path).map(|key| (key, target)))
        .collect()
}

fn watch_dirs(watcher: &mut notify::RecommendedWatcher, watched: &mut Vec<PathBuf>, targets: &Targets) {
    for (dir, _) in targets.keys() {
        if watched.contains(dir) {
            continue;
        }
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                tracing::debug!(dir = %dir.display(), "watching");
                watched.push(dir.clone());
            }
            Err(error) => tracing::warn!(dir = %dir.display(), %error, "cannot watch; changes there need SIGHUP"),
        }
    }
}

/// Adds the targets an event touches.
fn collect(event: notify::Result<notify::Event>, targets: &Targets, changed: &mut Vec<WatchTarget>) {
    let event = match event {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "file watcher error");
            return;
        }
    };
    if matches!(event.kind, EventKind::Access(_)) {
        return;
    }
    for path in &event.paths {
        let Some(key) = watch_key(path) else { continue };
        if let Some(target) = targets.get(&key) {
            if !changed.contains(target) {
                changed.push(*target);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use notify::event::{CreateKind, ModifyKind};

    use super::*;

    fn event(path: &Path, kind: EventKind) -> notify::Result<notify::Event> {
        Ok(notify::Event::new(kind).add_path(path.to_path_buf()))
    }

    fn targets(dir: &Path) -> Targets {
        [
            ("switchyard.toml", WatchTarget::Config),
            ("router.wasm", WatchTarget::Plugin),
        ]
        .into_iter()
        .filter_map(|(name, target)| watch_key(&dir.join(name)).map(|key| (key, target)))
        .collect()
    }

    /// Events 40 ms apart: the burst ends 100 ms after the last one.
    #[tokio::test(start_paused = true)]
    async fn a_burst_settles_after_a_quiet_moment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let targets = targets(dir.path());
        let (sender, mut incoming) = mpsc::unbounded_channel();
        let plugin = dir.path().join("router.wasm");
        let writer = {
            let plugin = plugin.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    let _ = sender.send(event(&plugin, EventKind::Modify(ModifyKind::Any)));
                }
                // Keep the channel open past the burst.
                tokio::time::sleep(Duration::from_secs(10)).await;
            })
        };
        let started = tokio::time::Instant::now();
        let changed = settle(
            event(&plugin, EventKind::Create(CreateKind::File)),
            &mut incoming,
            &targets,
        )
        .await;
        assert_eq!(changed, [WatchTarget::Plugin]);
        assert_eq!(started.elapsed(), Duration::from_millis(120) + SETTLE);
        writer.abort();
    }

    /// Events that never pause: the reload starts after MAX_DELAY anyway,
    /// with every target the burst touched; other files are ignored.
    #[tokio::test(start_paused = true)]
    async fn an_endless_burst_is_cut_at_max_delay() {
        let dir = tempfile::tempdir().expect("temp dir");
        let targets = targets(dir.path());
        let (sender, mut incoming) = mpsc::unbounded_channel();
        let (config, stranger) = (dir.path().join("switchyard.toml"), dir.path().join("notes.txt"));
        let writer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(30)).await;
                let _ = sender.send(event(&config, EventKind::Modify(ModifyKind::Any)));
                let _ = sender.send(event(&stranger, EventKind::Modify(ModifyKind::Any)));
            }
        });
        let started = tokio::time::Instant::now();
        let first = event(&dir.path().join("router.wasm"), EventKind::Modify(ModifyKind::Any));
        let changed = settle(first, &mut incoming, &targets).await;
        assert_eq!(changed, [WatchTarget::Plugin, WatchTarget::Config]);
        assert_eq!(started.elapsed(), MAX_DELAY);
        writer.abort();
    }
}
