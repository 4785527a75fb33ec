//! The loaded connectors, by id, and their hot reload.
//!
//! Each connector id maps to a slot holding the current version. A call takes the current
//! version when it starts and keeps it to the end, so a reload swaps what *new* calls get while
//! calls already running finish on the old version. A file that fails to load is reported and
//! counted, and the previous version keeps serving.

use super::stats::RuntimeStats;
use super::{LoadError, LoadedConnector, Runtime};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp { len: meta.len(), modified: meta.modified().ok() })
}

struct FileEntry {
    stamp: Option<Stamp>,
    digest: String,
    id: String,
}

/// Loaded connectors by id.
pub struct ConnectorRegistry {
    runtime: Arc<Runtime>,
    slots: RwLock<HashMap<String, Arc<ArcSwap<LoadedConnector>>>>,
    files: tokio::sync::Mutex<HashMap<PathBuf, FileEntry>>,
    dir: Option<PathBuf>,
    extra: Vec<PathBuf>,
}

impl ConnectorRegistry {
    /// A registry that loads every `*.wasm` in `dir` (when given) and each file in `extra`.
    pub fn new(runtime: Arc<Runtime>, dir: Option<PathBuf>, extra: Vec<PathBuf>) -> ConnectorRegistry {
        ConnectorRegistry { runtime, slots: RwLock::default(), files: Default::default(), dir, extra }
    }

    /// The runtime the connectors run on.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The current version of a connector.
    pub fn get(&self, id: &str) -> Option<Arc<LoadedConnector>> {
        self.slots.read().unwrap().get(id).map(|slot| slot.load_full())
    }

    /// Every loaded connector, current versions, sorted by id.
    pub fn all(&self) -> Vec<Arc<LoadedConnector>> {
        let mut all: Vec<_> = self.slots.read().unwrap().values().map(|s| s.load_full()).collect();
        all.sort_by(|a, b| a.info.id.cmp(&b.info.id));
        all
    }

    fn candidate_files(&self) -> Result<Vec<PathBuf>, LoadError> {
        let mut files = Vec::new();
        if let Some(dir) = &self.dir
            && dir.exists()
        {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| LoadError::Unreadable { file: dir.display().to_string(), reason: e.to_string() })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "wasm") {
                    files.push(path);
                }
            }
        }
        files.extend(self.extra.iter().cloned());
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// Load every connector file at start. Any bad file is an error: a host never starts
    /// half-loaded.
    pub async fn load_all(&self) -> Result<(), LoadError> {
        let mut loaded: Vec<(PathBuf, Option<Stamp>, LoadedConnector)> = Vec::new();
        for path in self.candidate_files()? {
            let before = stamp(&path);
            let connector = self.runtime.load_file(&path).await?;
            if let Some((other, _, _)) = loaded.iter().find(|(_, _, c)| c.info.id == connector.info.id) {
                return Err(LoadError::BadInfo {
                    file: path.display().to_string(),
                    reason: format!(
                        "connector id `{}` is also provided by {}; remove one of the two files",
                        connector.info.id,
                        other.display()
                    ),
                });
            }
            loaded.push((path, before, connector));
        }
        let mut files = self.files.lock().await;
        let mut slots = self.slots.write().unwrap();
        for (path, stamp, connector) in loaded {
            tracing::info!(
                connector = %connector.info.id, version = %connector.info.version, contract = connector.contract_version,
                file = %path.display(), cache = ?connector.cache, "connector loaded"
            );
            files.insert(path, FileEntry { stamp, digest: connector.digest.clone(), id: connector.info.id.clone() });
            slots.insert(connector.info.id.clone(), Arc::new(ArcSwap::from_pointee(connector)));
        }
        Ok(())
    }

    /// Look for new and changed files and load them. Returns how many versions took effect.
    pub async fn rescan(&self) -> usize {
        let stats = self.runtime.stats().clone();
        let candidates = match self.candidate_files() {
            Ok(files) => files,
            Err(e) => {
                tracing::warn!("connector rescan failed: {e}");
                return 0;
            }
        };
        let mut files = self.files.lock().await;
        let mut applied = 0;
        for path in candidates {
            let now = stamp(&path);
            if let Some(entry) = files.get(&path)
                && entry.stamp == now
            {
                continue;
            }
            let connector = match self.runtime.load_file(&path).await {
                Ok(c) => c,
                Err(e) => {
                    RuntimeStats::bump(&stats.reload_failures);
                    tracing::error!("connector reload refused; the previous version keeps serving: {e}");
                    // Remember the stamp so a broken file is reported once, not every interval.
                    if let Some(entry) = files.get_mut(&path) {
                        entry.stamp = now;
                    }
                    continue;
                }
            };
            if let Some(entry) = files.get(&path) {
                if entry.digest == connector.digest {
                    files.get_mut(&path).unwrap().stamp = now;
                    continue;
                }
                if entry.id != connector.info.id {
                    RuntimeStats::bump(&stats.reload_failures);
                    tracing::error!(
                        file = %path.display(),
                        "connector reload refused: the file's connector id changed from `{}` to `{}`; restart the host to rename a connector",
                        entry.id, connector.info.id
                    );
                    files.get_mut(&path).unwrap().stamp = now;
                    continue;
                }
            } else if files.values().any(|e| e.id == connector.info.id) {
                RuntimeStats::bump(&stats.reload_failures);
                tracing::error!(file = %path.display(), "new connector file ignored: id `{}` is already loaded from another file", connector.info.id);
                files.insert(path, FileEntry { stamp: now, digest: connector.digest.clone(), id: String::new() });
                continue;
            }
            tracing::info!(
                connector = %connector.info.id, version = %connector.info.version, file = %path.display(),
                "connector reloaded; new calls use this version"
            );
            RuntimeStats::bump(&stats.reloads);
            files.insert(path, FileEntry { stamp: now, digest: connector.digest.clone(), id: connector.info.id.clone() });
            let id = connector.info.id.clone();
            let mut slots = self.slots.write().unwrap();
            match slots.get(&id) {
                Some(slot) => slot.store(Arc::new(connector)),
                None => {
                    slots.insert(id, Arc::new(ArcSwap::from_pointee(connector)));
                }
            }
            applied += 1;
        }
        applied
    }

    /// Rescan every `interval` until the registry is dropped.
    pub fn spawn_watcher(self: &Arc<Self>, interval: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(registry) = weak.upgrade() else { break };
                registry.rescan().await;
            }
        });
    }
}
