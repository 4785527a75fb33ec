//! What one connector call can see: its channel, and the WASI and HTTP contexts built for it.
//!
//! A fresh [`CallState`] is built for every call, so nothing leaks between calls, channels or
//! tenants. WASI is granted nothing: no files, no environment, no arguments, no sockets.

use super::bindings::v0_1::switchboard::connector as v0_1;
use super::egress::EgressPolicy;
use super::stats::RuntimeStats;
use crate::domain::calls::{CallDecision, IncomingCall};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// A channel's small key-value state, kept by the host across calls.
#[async_trait::async_trait]
pub trait StateStore: Send + Sync {
    /// Read a value.
    async fn get(&self, tenant: &str, channel: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>>;
    /// Write a value; `max_keys` bounds how many keys the channel may hold.
    async fn set(&self, tenant: &str, channel: &str, key: &str, value: &[u8], max_keys: usize) -> anyhow::Result<Result<(), String>>;
    /// Remove a value.
    async fn delete(&self, tenant: &str, channel: &str, key: &str) -> anyhow::Result<()>;
}

/// Each (tenant, channel)'s keys and values.
type StateMap = HashMap<(String, String), HashMap<String, Vec<u8>>>;

/// An in-memory [`StateStore`], for validation, inspection and tests.
#[derive(Default)]
pub struct MemoryStateStore {
    values: std::sync::Mutex<StateMap>,
}

#[async_trait::async_trait]
impl StateStore for MemoryStateStore {
    async fn get(&self, tenant: &str, channel: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let values = self.values.lock().unwrap();
        Ok(values.get(&(tenant.into(), channel.into())).and_then(|m| m.get(key).cloned()))
    }

    async fn set(&self, tenant: &str, channel: &str, key: &str, value: &[u8], max_keys: usize) -> anyhow::Result<Result<(), String>> {
        let mut values = self.values.lock().unwrap();
        let map = values.entry((tenant.into(), channel.into())).or_default();
        if !map.contains_key(key) && map.len() >= max_keys {
            return Ok(Err(format!("the channel already holds {max_keys} state keys")));
        }
        map.insert(key.to_string(), value.to_vec());
        Ok(Ok(()))
    }

    async fn delete(&self, tenant: &str, channel: &str, key: &str) -> anyhow::Result<()> {
        let mut values = self.values.lock().unwrap();
        if let Some(map) = values.get_mut(&(tenant.into(), channel.into())) {
            map.remove(key);
        }
        Ok(())
    }
}

/// Answers a voice connector's question "what do I do with this call?".
#[async_trait::async_trait]
pub trait CallRouter: Send + Sync {
    /// Decide for one waiting call on a channel.
    async fn route_call(&self, tenant: &str, channel: &str, call: IncomingCall) -> CallDecision;
}

/// A router with no agents: every call goes to voicemail.
pub struct NoAgents;

#[async_trait::async_trait]
impl CallRouter for NoAgents {
    async fn route_call(&self, _tenant: &str, _channel: &str, _call: IncomingCall) -> CallDecision {
        CallDecision::Voicemail { reason: "no agents are available".into() }
    }
}

/// The channel a call runs for: everything a connector may see, and nothing more.
pub struct ChannelContext {
    /// The owning tenant.
    pub tenant: String,
    /// The channel id.
    pub channel_id: String,
    /// Settings and secrets by key, with the connector's declared defaults filled in.
    pub settings: HashMap<String, String>,
    /// The public URL of this channel's webhook.
    pub webhook_url: String,
    /// Where the connector may send requests.
    pub egress: EgressPolicy,
    /// The channel's key-value state.
    pub state: Arc<dyn StateStore>,
    /// Routing decisions for calls.
    pub router: Arc<dyn CallRouter>,
}

impl ChannelContext {
    /// A context with no settings, no egress and throw-away state: for `describe` and inspection.
    pub fn detached() -> ChannelContext {
        ChannelContext {
            tenant: "-".into(),
            channel_id: "-".into(),
            settings: HashMap::new(),
            webhook_url: String::new(),
            egress: EgressPolicy::default(),
            state: Arc::new(MemoryStateStore::default()),
            router: Arc::new(NoAgents),
        }
    }
}

/// Memory limits of one call; records whether the cap was hit so the failure can say so.
pub struct CallLimits {
    /// Linear-memory cap in bytes.
    pub memory_bytes: usize,
    /// Set when a growth beyond the cap was refused.
    pub memory_cap_hit: bool,
}

impl wasmtime::ResourceLimiter for CallLimits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_cap_hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The store data of one call.
pub struct CallState {
    pub(crate) channel: Arc<ChannelContext>,
    pub(crate) connector_id: Arc<str>,
    pub(crate) limits: CallLimits,
    /// Built on the first WASI call: connectors built with the SDK import no WASI interface, and
    /// seeding a context's random sources costs more than the rest of the state together.
    wasi: Option<WasiCtx>,
    http: WasiHttpCtx,
    hooks: super::egress_hook::EgressHook,
    table: ResourceTable,
}

impl CallState {
    /// Build the state for one call.
    pub fn new(
        channel: Arc<ChannelContext>,
        connector_id: Arc<str>,
        memory_bytes: usize,
        stats: Arc<RuntimeStats>,
        pool: Arc<super::egress_pool::EgressPool>,
        connect_timeout: Duration,
    ) -> CallState {
        let hooks = super::egress_hook::EgressHook(super::egress_hook::Egress::new(channel.clone(), connector_id.clone(), stats, pool, connect_timeout));
        CallState {
            channel,
            connector_id,
            limits: CallLimits { memory_bytes, memory_cap_hit: false },
            wasi: None,
            http: WasiHttpCtx::new(),
            hooks,
            table: ResourceTable::new(),
        }
    }

    /// The way out for this call's requests.
    pub(crate) fn egress(&self) -> &super::egress_hook::Egress {
        &self.hooks.0
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let ctx = self.wasi.get_or_insert_with(|| {
            let mut wasi = WasiCtx::builder();
            wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
            wasi.build()
        });
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl v0_1::types::Host for CallState {}

impl v0_1::host::Host for CallState {
    async fn setting(&mut self, key: String) -> Option<String> {
        self.channel.settings.get(&key).cloned()
    }

    async fn webhook_url(&mut self) -> String {
        self.channel.webhook_url.clone()
    }

    async fn state_get(&mut self, key: String) -> Option<Vec<u8>> {
        let ch = &self.channel;
        match ch.state.get(&ch.tenant, &ch.channel_id, &key).await {
            Ok(value) => value,
            Err(e) => {
                tracing::error!(tenant = %ch.tenant, channel = %ch.channel_id, error = %e, "connector state read failed");
                None
            }
        }
    }

    async fn state_set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        use crate::config::defaults::{STATE_MAX_KEYS, STATE_MAX_VALUE_BYTES};
        if key.is_empty() || key.len() > 256 {
            return Err("state keys must be 1 to 256 bytes".into());
        }
        if value.len() > STATE_MAX_VALUE_BYTES {
            return Err(format!("state values are limited to {STATE_MAX_VALUE_BYTES} bytes"));
        }
        let ch = &self.channel;
        match ch.state.set(&ch.tenant, &ch.channel_id, &key, &value, STATE_MAX_KEYS).await {
            Ok(result) => result,
            Err(e) => {
                tracing::error!(tenant = %ch.tenant, channel = %ch.channel_id, error = %e, "connector state write failed");
                Err("the host could not store the value; try again".into())
            }
        }
    }

    async fn state_delete(&mut self, key: String) {
        let ch = &self.channel;
        if let Err(e) = ch.state.delete(&ch.tenant, &ch.channel_id, &key).await {
            tracing::error!(tenant = %ch.tenant, channel = %ch.channel_id, error = %e, "connector state delete failed");
        }
    }

    async fn log(&mut self, level: v0_1::host::LogLevel, message: String) {
        use v0_1::host::LogLevel;
        let (tenant, channel, connector) = (&self.channel.tenant, &self.channel.channel_id, &*self.connector_id);
        // Bound what a connector can put in one log line.
        let message: String = message.chars().take(4096).collect();
        match level {
            LogLevel::Trace => tracing::trace!(target: "connector", tenant = %tenant, channel = %channel, connector = %connector, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "connector", tenant = %tenant, channel = %channel, connector = %connector, "{message}"),
            LogLevel::Info => tracing::info!(target: "connector", tenant = %tenant, channel = %channel, connector = %connector, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "connector", tenant = %tenant, channel = %channel, connector = %connector, "{message}"),
            LogLevel::Error => tracing::error!(target: "connector", tenant = %tenant, channel = %channel, connector = %connector, "{message}"),
        }
    }
}

impl v0_1::call_routing::Host for CallState {
    async fn route_call(&mut self, call: v0_1::call_routing::IncomingCall) -> v0_1::call_routing::CallDecision {
        use v0_1::call_routing as wit;
        let incoming = IncomingCall {
            call_id: call.call_id,
            caller_id: call.caller.id,
            caller_phone: call.caller.phone,
            called: call.called,
            menu_choice: call.menu_choice,
            reference: call.reference,
        };
        let ch = &self.channel;
        match ch.router.route_call(&ch.tenant, &ch.channel_id, incoming).await {
            CallDecision::Connect { agent_id, address, ring_seconds } => {
                wit::CallDecision::Connect(wit::AgentTarget { agent_id, address, ring_seconds })
            }
            CallDecision::Enqueue { queue, position, expected_wait_seconds } => {
                wit::CallDecision::Enqueue(wit::QueuePosition { queue, position, expected_wait_seconds })
            }
            CallDecision::Voicemail { reason } => wit::CallDecision::Voicemail(reason),
        }
    }
}
