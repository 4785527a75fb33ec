//! Loading a connector file: checks that it is a component of a supported contract version, that
//! the host provides everything it imports, and that what it describes makes sense.

use super::bindings::{self, v0_1::switchboard::connector::types as wit};
use super::cache::{CacheOutcome, sha256_hex};
use super::egress::AllowedHost;
use super::state::CallState;
use super::{CallError, Runtime};
use std::path::{Path, PathBuf};
use wasmtime::component::ComponentExportIndex;
use wasmtime::component::types::ComponentItem;

/// A connector ready to be called.
pub struct LoadedConnector {
    /// What the connector said about itself.
    pub info: wit::ConnectorInfo,
    /// The contract version it was built against, e.g. `0.1.0`.
    pub contract_version: &'static str,
    /// The file it was loaded from.
    pub source: Option<PathBuf>,
    /// Hex SHA-256 of the file.
    pub digest: String,
    /// The interfaces it imports.
    pub imports: Vec<String>,
    /// The interfaces it exports.
    pub exports: Vec<String>,
    /// Whether the compiled code came from the cache.
    pub cache: CacheOutcome,
    pub(crate) pre: bindings::v0_1::ChannelPre<CallState>,
    pub(crate) entrypoints: Entrypoints,
}

/// Where a connector's operations are among its exports, looked up once at load so a call finds
/// its function by index instead of by name.
pub(crate) struct Entrypoints {
    pub(crate) handle_webhook: ComponentExportIndex,
    pub(crate) send: ComponentExportIndex,
    pub(crate) act: ComponentExportIndex,
    pub(crate) fetch_media: ComponentExportIndex,
}

impl Entrypoints {
    fn find(component: &wasmtime::component::Component, interface: &str) -> Option<Entrypoints> {
        let interface = component.get_export_index(None, interface)?;
        let at = |name: &str| component.get_export_index(Some(&interface), name);
        Some(Entrypoints { handle_webhook: at("handle-webhook")?, send: at("send")?, act: at("act")?, fetch_media: at("fetch-media")? })
    }
}

/// Why a file could not be loaded. Each message is one line that names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read the file: {reason}")]
    Unreadable { file: String, reason: String },
    /// Not WebAssembly at all.
    #[error("{file}: not a WebAssembly file (no `\\0asm` header); pass a connector built with `cargo build --target wasm32-wasip2`")]
    NotWasm { file: String },
    /// A core module instead of a component.
    #[error("{file}: a core WebAssembly module, not a component; build with `--target wasm32-wasip2`, or wrap it with `wasm-tools component new`")]
    CoreModule { file: String },
    /// A component that does not parse (truncated or corrupt).
    #[error("{file}: not a valid component (truncated or corrupt): {reason}")]
    Invalid { file: String, reason: String },
    /// A component of another world.
    #[error("{file}: does not implement the connector contract: it exports [{exports}] but not {expected}; build it against world `channel` of wit/connector.wit")]
    WrongWorld { file: String, exports: String, expected: String },
    /// It imports something the host does not provide.
    #[error("{file}: imports something the host does not provide: {reason}")]
    MissingImport { file: String, reason: String },
    /// `describe` failed.
    #[error("{file}: `describe` failed: {reason}")]
    Describe { file: String, reason: String },
    /// `describe` returned something invalid.
    #[error("{file}: invalid description: {reason}")]
    BadInfo { file: String, reason: String },
}

impl Runtime {
    /// Load a connector from a file.
    pub async fn load_file(&self, path: &Path) -> Result<LoadedConnector, LoadError> {
        let file = path.display().to_string();
        let bytes = tokio::fs::read(path).await.map_err(|e| LoadError::Unreadable { file: file.clone(), reason: e.to_string() })?;
        self.load_bytes(&bytes, &file, Some(path.to_path_buf())).await
    }

    /// Load a connector from bytes; `file` names it in errors.
    pub async fn load_bytes(&self, bytes: &[u8], file: &str, source: Option<PathBuf>) -> Result<LoadedConnector, LoadError> {
        let file = file.to_string();
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(LoadError::NotWasm { file });
        }
        match bytes[4..8] {
            [1, 0, 0, 0] => return Err(LoadError::CoreModule { file }),
            [0x0d, 0, 1, 0] => {}
            _ => {
                return Err(LoadError::Invalid { file, reason: "unknown WebAssembly version or layer".into() });
            }
        }
        let digest = sha256_hex(bytes);
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        let owned = bytes.to_vec();
        let digest_for_compile = digest.clone();
        let compiled = tokio::task::spawn_blocking(move || cache.load_or_compile(&engine, &owned, &digest_for_compile))
            .await
            .map_err(|e| LoadError::Invalid { file: file.clone(), reason: format!("compilation panicked: {e}") })?;
        let (component, cache_outcome) =
            compiled.map_err(|e| LoadError::Invalid { file: file.clone(), reason: one_line(&e) })?;

        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect();
        let interface = bindings::v0_1::EXPORT;
        if !ty.exports(&self.engine).any(|(name, item)| name == interface && matches!(item.ty, ComponentItem::ComponentInstance(_))) {
            return Err(LoadError::WrongWorld { file, exports: exports.join(", "), expected: interface.to_string() });
        }
        let version = bindings::contract_version(imports.iter().map(String::as_str));

        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::MissingImport { file: file.clone(), reason: one_line(&e) })?;
        let pre = bindings::v0_1::ChannelPre::new(instance_pre)
            .map_err(|e| LoadError::WrongWorld { file: file.clone(), exports: exports.join(", "), expected: one_line(&e) })?;

        let entrypoints = Entrypoints::find(&component, interface)
            .ok_or_else(|| LoadError::WrongWorld { file: file.clone(), exports: exports.join(", "), expected: format!("the functions of {interface}") })?;

        // `describe` runs through the generated bindings, which type-check every export of the
        // contract against this component; calls later rely on that check (see `Runtime::run`).
        let info = self.describe(&pre, "describe").await.map_err(|e: CallError| LoadError::Describe { file: file.clone(), reason: e.to_string() })?;
        check_info(&info).map_err(|reason| LoadError::BadInfo { file: file.clone(), reason })?;
        Ok(LoadedConnector { info, contract_version: version, source, digest, imports, exports, cache: cache_outcome, pre, entrypoints })
    }
}

/// An error chain on one line: the outermost context and the root cause.
fn one_line(error: &wasmtime::Error) -> String {
    let outer = error.to_string();
    let root = error.root_cause().to_string();
    let text = if outer == root { outer } else { format!("{outer}: {root}") };
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Check what a connector says about itself.
pub fn check_info(info: &wit::ConnectorInfo) -> Result<(), String> {
    crate::domain::ids::check_slug(&info.id).map_err(|why| format!("id {why}"))?;
    if !is_semver(&info.version) {
        return Err(format!("version is `{}`; use semver such as 1.2.3", info.version));
    }
    if info.name.trim().is_empty() {
        return Err("name is empty; give the connector a human-readable name".into());
    }
    let mut keys = std::collections::HashSet::new();
    for setting in &info.settings {
        crate::domain::ids::check_slug(&setting.key).map_err(|why| format!("setting key {why}"))?;
        if !keys.insert(setting.key.as_str()) {
            return Err(format!("setting `{}` is declared twice", setting.key));
        }
    }
    for rule in &info.egress {
        match rule {
            wit::EgressRule::Host(host) => {
                if AllowedHost::parse(host).is_none() {
                    return Err(format!("egress host `{host}` is not a host or host:port"));
                }
            }
            wit::EgressRule::HostOfSetting(key) => {
                if !keys.contains(key.as_str()) {
                    return Err(format!("egress refers to setting `{key}`, which the connector does not declare"));
                }
            }
        }
    }
    Ok(())
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn semver() {
        assert!(is_semver("0.1.0"));
        assert!(is_semver("1.2.3-beta.1"));
        assert!(!is_semver("1.2"));
        assert!(!is_semver("v1.2.3"));
    }
}
