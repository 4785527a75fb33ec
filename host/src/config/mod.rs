//! Configuration: a TOML file, then `SWITCHBOARD_*` environment overrides, over the defaults in
//! [`defaults`]. Unknown keys are errors, so a typo never silently falls back to a default.
//!
//! Environment variables name a key by its path, sections joined by a double underscore:
//! `SWITCHBOARD_SERVER__LISTEN=0.0.0.0:8080`, `SWITCHBOARD_RUNTIME__MEMORY_LIMIT_MIB=128`.

pub mod defaults;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole configuration of a host.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP server.
    pub server: ServerConfig,
    /// The database.
    pub storage: StorageConfig,
    /// The connector runtime.
    pub runtime: RuntimeConfig,
    /// Logging.
    pub log: LogConfig,
    /// Conversation policy.
    pub conversations: ConversationsConfig,
    /// Outbound delivery.
    pub delivery: DeliveryConfig,
    /// Call routing.
    pub routing: RoutingConfig,
    /// Channels declared in the file. They are created (or updated) at start.
    pub channels: Vec<ChannelConfig>,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// `host:port` to listen on.
    pub listen: String,
    /// The base URL providers use to reach this host, e.g. `https://cc.example.com`. Webhook
    /// signatures that cover the URL (Twilio's) are checked against it. Defaults to
    /// `http://{listen}`.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen: defaults::LISTEN.into(), public_url: None, max_body_bytes: defaults::MAX_BODY_BYTES }
    }
}

/// The database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite://path/to/file.db` (the embedded default) or `postgres://user@host/db`.
    pub url: String,
    /// Key that encrypts channel secrets at rest: 64 hex digits (32 bytes). Without one, the host
    /// generates a key file next to the SQLite database on first start.
    pub encryption_key: Option<String>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { url: defaults::DATABASE_URL.into(), encryption_key: None }
    }
}

/// The connector runtime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Wall-clock budget of one connector call, in milliseconds.
    pub call_deadline_ms: u64,
    /// Linear-memory cap of one connector instance, in MiB.
    pub memory_limit_mib: u64,
    /// Connector instances that may run at once.
    pub max_concurrent_calls: u32,
    /// How long a call waits for a free instance slot, in milliseconds.
    pub queue_timeout_ms: u64,
    /// Epoch tick (CPU deadline granularity), in milliseconds.
    pub epoch_tick_ms: u64,
    /// Directory of the compiled-component cache.
    pub cache_dir: PathBuf,
    /// Directory whose `*.wasm` files are loaded as connectors.
    pub connector_dir: PathBuf,
    /// Further connector files to load.
    pub connectors: Vec<PathBuf>,
    /// How often connector files are checked for changes, in milliseconds; 0 disables hot reload.
    pub reload_interval_ms: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            call_deadline_ms: defaults::CALL_DEADLINE_MS,
            memory_limit_mib: defaults::MEMORY_LIMIT_MIB,
            max_concurrent_calls: defaults::MAX_CONCURRENT_CALLS,
            queue_timeout_ms: defaults::QUEUE_TIMEOUT_MS,
            epoch_tick_ms: defaults::EPOCH_TICK_MS,
            cache_dir: defaults::CACHE_DIR.into(),
            connector_dir: defaults::CONNECTOR_DIR.into(),
            connectors: Vec::new(),
            reload_interval_ms: defaults::RELOAD_INTERVAL_MS,
        }
    }
}

/// Conversation policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationsConfig {
    /// Minutes after resolution during which a new inbound message reopens a conversation.
    pub reopen_window_minutes: u64,
}

impl Default for ConversationsConfig {
    fn default() -> Self {
        ConversationsConfig { reopen_window_minutes: defaults::REOPEN_WINDOW_MINUTES }
    }
}

/// Outbound delivery: retries and the dispatcher.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// First retry delay, in milliseconds.
    pub retry_base_ms: u64,
    /// Longest retry delay, in milliseconds.
    pub retry_cap_ms: u64,
    /// Attempts before a message fails.
    pub max_attempts: u32,
    /// Dispatcher poll interval, in milliseconds.
    pub poll_interval_ms: u64,
    /// Outbox lease, in milliseconds.
    pub lease_ms: u64,
    /// Sends in flight at once.
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_base_ms: defaults::RETRY_BASE_MS,
            retry_cap_ms: defaults::RETRY_CAP_MS,
            max_attempts: defaults::MAX_ATTEMPTS,
            poll_interval_ms: defaults::DISPATCH_POLL_MS,
            lease_ms: defaults::OUTBOX_LEASE_MS,
            concurrency: defaults::DISPATCH_CONCURRENCY,
        }
    }
}

/// Call routing: business hours, the queue and ringing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// `always`, or e.g. `mon-fri 09:00-17:00, sat 10:00-14:00`.
    pub business_hours: String,
    /// The business's time zone, in minutes from UTC.
    pub utc_offset_minutes: i32,
    /// Seconds an agent's phone rings.
    pub ring_seconds: u32,
    /// Callers who may wait at once.
    pub max_queue: u32,
    /// Average call length, for announced waits.
    pub average_handle_seconds: u32,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            business_hours: defaults::BUSINESS_HOURS.into(),
            utc_offset_minutes: defaults::UTC_OFFSET_MINUTES,
            ring_seconds: defaults::RING_SECONDS,
            max_queue: defaults::MAX_QUEUE,
            average_handle_seconds: defaults::AVERAGE_HANDLE_SECONDS,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter such as `info` or `switchboard=debug`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: defaults::LOG_FORMAT.into(), filter: defaults::LOG_FILTER.into() }
    }
}

/// A channel declared in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The channel's id; its webhook is `/hooks/{id}`.
    pub id: String,
    /// The tenant that owns it.
    pub tenant: String,
    /// The connector id (from the connector's `describe`).
    pub connector: String,
    /// Settings and secrets, by the keys the connector declares.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Hosts the connector may call, replacing the ones it declares (`host` or `host:port`).
    #[serde(default)]
    pub egress: Option<Vec<String>>,
    /// Allow egress to loopback and private addresses. Off unless set: for tests and on-premises
    /// providers only.
    #[serde(default)]
    pub allow_private_egress: bool,
    /// Let human agents answer after the reply window with the channel's human-agent tag
    /// (Instagram: up to 7 days). Off unless set.
    #[serde(default)]
    pub human_agent_tag: bool,
}

/// A configuration problem, naming the key or file and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Load the file (if given), apply `SWITCHBOARD_*` overrides, and validate.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file `{}` does not exist: pass the path of a TOML file (see examples/config/demo.toml)",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("SWITCHBOARD")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("runtime.connectors"),
        );
        let where_ = file.map(|p| format!(" in `{}`", p.display())).unwrap_or_default();
        let raw = builder
            .build()
            .map_err(|e| ConfigError(format!("cannot read the configuration{where_}: {e}")))?;
        let config: Config = raw.try_deserialize().map_err(|e| {
            ConfigError(format!(
                "invalid configuration{where_}: {e}. Check the key's spelling and type against examples/config/demo.toml"
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Check values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError(format!("invalid configuration: `{key}` {why}")));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "server.listen",
                &format!("is `{}`; it must be an address and port such as 127.0.0.1:8080", self.server.listen),
            );
        }
        if let Some(url) = &self.server.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return bad("server.public_url", &format!("is `{url}`; it must start with http:// or https://"));
        }
        if self.server.max_body_bytes == 0 {
            return bad("server.max_body_bytes", "must be greater than 0");
        }
        if !(self.storage.url.starts_with("sqlite:")
            || self.storage.url.starts_with("postgres://")
            || self.storage.url.starts_with("postgresql://"))
        {
            return bad("storage.url", "must start with sqlite:, postgres:// or postgresql://");
        }
        if let Some(key) = &self.storage.encryption_key
            && (key.len() != 64 || hex::decode(key).is_err())
        {
            return bad("storage.encryption_key", "must be 64 hex digits (32 bytes); generate one with `openssl rand -hex 32`");
        }
        let rt = &self.runtime;
        if rt.call_deadline_ms == 0 {
            return bad("runtime.call_deadline_ms", "must be greater than 0");
        }
        if rt.memory_limit_mib == 0 || rt.memory_limit_mib > 4096 {
            return bad("runtime.memory_limit_mib", "must be between 1 and 4096");
        }
        if rt.max_concurrent_calls == 0 || rt.max_concurrent_calls > 10_000 {
            return bad("runtime.max_concurrent_calls", "must be between 1 and 10000");
        }
        if rt.epoch_tick_ms == 0 || rt.epoch_tick_ms > rt.call_deadline_ms {
            return bad("runtime.epoch_tick_ms", "must be at least 1 and no more than runtime.call_deadline_ms");
        }
        if self.delivery.max_attempts == 0 || self.delivery.concurrency == 0 || self.delivery.poll_interval_ms == 0 {
            return bad("delivery", "max_attempts, concurrency and poll_interval_ms must be greater than 0");
        }
        if self.delivery.lease_ms <= self.runtime.call_deadline_ms {
            return bad("delivery.lease_ms", "must be longer than runtime.call_deadline_ms, or a slow send could be taken by another host");
        }
        if let Err(why) = crate::domain::voice::BusinessHours::parse(&self.routing.business_hours) {
            return bad("routing.business_hours", &why);
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad("log.format", &format!("is `{}`; use `text` or `json`", self.log.format));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, ch) in self.channels.iter().enumerate() {
            if let Err(why) = crate::domain::ids::check_slug(&ch.id) {
                return bad(&format!("channels[{i}].id"), &why);
            }
            if let Err(why) = crate::domain::ids::check_slug(&ch.tenant) {
                return bad(&format!("channels[{i}].tenant"), &why);
            }
            if !seen.insert(ch.id.clone()) {
                return bad(&format!("channels[{i}].id"), &format!("`{}` is declared twice; channel ids are unique", ch.id));
            }
        }
        Ok(())
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.server.listen))
            .trim_end_matches('/')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:9000\"\n[runtime]\nmemory_limit_mib = 32\n").unwrap();
        // SAFETY: this is the only test in the crate that touches the environment.
        unsafe { std::env::set_var("SWITCHBOARD_RUNTIME__MEMORY_LIMIT_MIB", "48") };
        let config = Config::load(Some(&file)).unwrap();
        unsafe { std::env::remove_var("SWITCHBOARD_RUNTIME__MEMORY_LIMIT_MIB") };
        assert_eq!(config.server.listen, "127.0.0.1:9000");
        assert_eq!(config.runtime.memory_limit_mib, 48);
        assert_eq!(config.runtime.call_deadline_ms, defaults::CALL_DEADLINE_MS);
        assert_eq!(config.public_url(), "http://127.0.0.1:9000");
    }
}
