//! The on-disk cache of compiled components.
//!
//! Entries are keyed by the SHA-256 of the component's bytes and by the engine's compatibility
//! hash (wasmtime version and compilation settings), so a host never loads code compiled for a
//! different engine. A corrupt or stale entry is recompiled and replaced.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a component came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded precompiled code from the cache.
    Hit,
    /// Compiled, and stored for next time (when a cache directory is set).
    Compiled,
}

/// The compiled-component cache. Without a directory it always compiles.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompileCache {
    /// A cache in `dir` (created on first write), or none.
    pub fn new(dir: Option<PathBuf>) -> CompileCache {
        CompileCache { dir }
    }

    fn entry_path(&self, engine: &Engine, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(dir.join(format!("{}-{:016x}.cwasm", &digest[..32], hasher.finish())))
    }

    /// Load the compiled form of `bytes` (whose SHA-256 is `digest`), compiling it on a miss.
    pub fn load_or_compile(&self, engine: &Engine, bytes: &[u8], digest: &str) -> wasmtime::Result<(Component, CacheOutcome)> {
        let entry = self.entry_path(engine, digest);
        if let Some(path) = &entry
            && path.is_file()
        {
            // SAFETY: the cache directory belongs to the operator, entries are written only by
            // this function from code the engine itself compiled, and the file name binds the
            // entry to this engine's compatibility hash. wasmtime also checks the header.
            match unsafe { Component::deserialize_file(engine, path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable compiled-cache entry"),
            }
        }
        let component = Component::from_binary(engine, bytes)?;
        if let Some(path) = &entry
            && let Err(e) = write_atomically(path, &component.serialize()?)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not write the compiled-component cache; continuing without it");
        }
        Ok((component, CacheOutcome::Compiled))
    }
}

/// Write a file so that readers see either nothing or the whole content.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
