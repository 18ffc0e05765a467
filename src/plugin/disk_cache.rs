//! Compiled components on disk, so a restart or a swap back to a known
//! version skips the compile (seconds for a Python or JavaScript plugin).
//!
//! An entry is named by the component's SHA-256 and a key of the engine's
//! compilation settings (wasmtime version, target, options): a different
//! build of Switchyard never reads another's artifacts. Loading native code
//! from disk trusts the file, so each entry starts with the SHA-256 of the
//! artifact that follows, checked before wasmtime sees it; a corrupt or
//! truncated entry is deleted, logged and rebuilt. The directory is created
//! private to the user (mode 0700) and refused if others can write to it.
//! Entries are written to a temporary file and renamed, so concurrent
//! processes sharing a directory never read half an entry.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use crate::config::CacheSetting;
use crate::content_hash::ContentHash;

/// Entries kept; the least recently written beyond it are deleted.
const MAX_ENTRIES: usize = 64;
const EXTENSION: &str = "cwasm";

/// The directory `setting` names: `$SWITCHYARD_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/switchyard`, else `$HOME/.cache/switchyard` by default;
/// `None` when off (or the variable says `off`, or none is set).
pub fn directory(setting: &CacheSetting) -> Option<PathBuf> {
    match setting {
        CacheSetting::Off => None,
        CacheSetting::Dir(dir) => Some(dir.clone()),
        CacheSetting::Default => {
            if let Some(dir) = std::env::var_os("SWITCHYARD_CACHE_DIR") {
                return (!dir.is_empty() && dir != "off").then(|| PathBuf::from(dir));
            }
            let base = std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(base.join("switchyard"))
        }
    }
}

/// The cache directory cannot be used (compiled plugins are then not kept).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// It cannot be created or read.
    #[error("cannot use the plugin cache directory {}", .0.display())]
    Dir(PathBuf, #[source] io::Error),
    /// Others may write to it: its artifacts could not be trusted.
    #[error("refusing the plugin cache directory {}: other users can write to it", .0.display())]
    Unsafe(PathBuf),
}

/// Compiled components in one directory.
pub struct DiskCache {
    dir: PathBuf,
    /// Hex key of the engine's compilation settings.
    engine_key: String,
}

impl DiskCache {
    /// Opens (creating, mode 0700) the cache directory for `engine`.
    pub fn open(dir: &Path, engine: &Engine) -> Result<DiskCache, CacheError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| CacheError::Dir(dir.to_path_buf(), e))?;
        let mode = fs::metadata(dir)
            .map_err(|e| CacheError::Dir(dir.to_path_buf(), e))?
            .permissions()
            .mode();
        if mode & 0o022 != 0 {
            return Err(CacheError::Unsafe(dir.to_path_buf()));
        }
        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex(&hasher.0.finalize()[..8]);
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            engine_key,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding `hash`'s artifact for this engine.
    pub fn entry(&self, hash: ContentHash) -> PathBuf {
        self.dir.join(format!("{hash}-{}.{EXTENSION}", self.engine_key))
    }

    /// The component compiled before, if its entry is present and intact.
    pub fn load(&self, engine: &Engine, hash: ContentHash) -> Option<Component> {
        let path = self.entry(hash);
        // Off the runtime: plugins are compiled and loaded in spawn_blocking.
        #[allow(clippy::disallowed_methods)]
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read a cached plugin artifact; compiling");
                return None;
            }
        };
        match verified(&bytes) {
            // SAFETY: the artifact is the one this process's engine
            // serialized (same compatibility key in the name) and its
            // checksum matches, so it is not corrupt; the directory is
            // private to this user. wasmtime checks its header too.
            // One of the four documented unsafe sites.
            #[allow(unsafe_code)]
            Some(artifact) => match unsafe { Component::deserialize(engine, artifact) } {
                Ok(component) => return Some(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cached plugin artifact rejected; rebuilding")
                }
            },
            None => tracing::warn!(path = %path.display(), "corrupt cached plugin artifact; rebuilding"),
        }
        let _ = fs::remove_file(&path);
        None
    }

    /// Writes `component`'s artifact; failures are logged, never fatal.
    pub fn store(&self, hash: ContentHash, component: &Component) {
        if let Err(e) = self.try_store(hash, component) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot write to the plugin cache");
        }
    }

    fn try_store(&self, hash: ContentHash, component: &Component) -> io::Result<()> {
        let artifact = component.serialize().map_err(io::Error::other)?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        {
            use std::io::Write;
            file.write_all(&Sha256::digest(&artifact))?;
            file.write_all(&artifact)?;
        }
        file.persist(self.entry(hash)).map_err(|e| e.error)?;
        self.prune();
        Ok(())
    }

    /// Keeps the newest `MAX_ENTRIES` entries.
    fn prune(&self) {
        let Ok(read) = fs::read_dir(&self.dir) else { return };
        let mut entries: Vec<(std::time::SystemTime, PathBuf)> = read
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if entries.len() <= MAX_ENTRIES {
            return;
        }
        entries.sort();
        for (_, path) in &entries[..entries.len() - MAX_ENTRIES] {
            let _ = fs::remove_file(path);
        }
    }
}

/// The artifact after the checksum, if the checksum matches.
fn verified(entry: &[u8]) -> Option<&[u8]> {
    let (sum, artifact) = entry.split_at_checked(32)?;
    (Sha256::digest(artifact).as_slice() == sum).then_some(artifact)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds `Hash` output into SHA-256: a key stable across processes.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::verified;
    use sha2::{Digest, Sha256};

    #[test]
    fn only_entries_whose_checksum_matches_are_used() {
        let artifact = b"compiled code".to_vec();
        let mut entry = Sha256::digest(&artifact).to_vec();
        entry.extend_from_slice(&artifact);
        assert_eq!(verified(&entry), Some(&artifact[..]));
        let mut flipped = entry.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(verified(&flipped), None);
        assert_eq!(verified(&entry[..entry.len() - 1]), None);
        assert_eq!(verified(&entry[..10]), None);
    }
}
