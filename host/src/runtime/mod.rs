//! The connector runtime: loads WebAssembly components and calls them in a sandbox.
//!
//! - One [`wasmtime::Engine`] with the pooling allocator; an `InstancePre` per loaded component.
//! - A fresh store and instance per call, so no state leaks between calls, channels or tenants.
//! - Epoch interruption makes a running guest yield to tokio at every tick, so calls never block
//!   the async runtime, and one timer enforces the call's deadline whether the guest computes or
//!   waits on I/O. A memory cap is enforced through a resource limiter. A trap, a timeout or a memory bomb fails only its own call.
//! - A semaphore the size of the instance pool gives back-pressure when the pool is full.
//! - Connectors reach the network through the contract's `http` import ([`http_import`]) or
//!   `wasi:http`, both through one egress check ([`egress_hook`]), and compute MACs through its
//!   `crypto` import ([`crypto_import`]).
//! - Compiled components are cached on disk ([`cache`]); files are hot-reloaded ([`registry`]).

pub mod bindings;
pub mod cache;
pub mod crypto_import;
pub mod egress;
pub mod egress_hook;
pub mod egress_pool;
pub mod http_import;
pub mod loader;
pub mod registry;
pub mod resolver;
pub mod state;
pub mod stats;

use crate::config::RuntimeConfig;
use crate::config::defaults;
use bindings::v0_1::switchboard::connector::types as wit;
pub use loader::{LoadError, LoadedConnector};
pub use state::{CallRouter, ChannelContext, MemoryStateStore, NoAgents, StateStore};
use state::CallState;
use stats::RuntimeStats;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime::component::{Linker, TypedFunc};
use wasmtime::{Engine, Store, Trap};

/// Why a connector call failed. None of these are the caller's fault; all are contained.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past its deadline and was stopped.
    #[error("the connector call exceeded its {0:?} deadline and was stopped")]
    Timeout(Duration),
    /// The instance tried to grow its memory past the cap.
    #[error("the connector exceeded its memory cap of {0} MiB")]
    MemoryExceeded(u64),
    /// The guest trapped (panicked, hit `unreachable`, ...).
    #[error("the connector trapped: {0}")]
    Trap(String),
    /// No instance slot became free in time.
    #[error("the connector runtime is at capacity ({0} concurrent calls); retry shortly")]
    Busy(u32),
}

/// The result of one call, by operation.
enum Reply {
    Webhook(Result<wit::WebhookOutcome, wit::WebhookRejection>),
    Send(Result<wit::SendReceipt, wit::SendError>),
    Act(Result<wit::ActionReceipt, wit::SendError>),
    FetchMedia(Result<wit::FetchedMedia, wit::SendError>),
    Describe(wit::ConnectorInfo),
}

/// One operation to run in a fresh instance.
enum Call {
    Webhook(wit::HttpRequest),
    Send(wit::OutboundMessage),
    Act(wit::Action),
    FetchMedia(wit::Media),
    Describe,
}

/// Limits applied to every call.
#[derive(Debug, Clone)]
struct Limits {
    deadline: Duration,
    memory_bytes: usize,
    memory_mib: u64,
    queue_timeout: Duration,
    max_concurrent: u32,
}

/// The sandboxed runtime. Cheap to share behind an `Arc`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    permits: Arc<Semaphore>,
    limits: Limits,
    cache: cache::CompileCache,
    stats: Arc<RuntimeStats>,
    egress: Arc<egress_pool::EgressPool>,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Build the engine, the linker and the epoch ticker.
    pub fn new(config: &RuntimeConfig) -> anyhow::Result<Runtime> {
        let memory_bytes = usize::try_from(config.memory_limit_mib * 1024 * 1024)?;
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        let slots = config.max_concurrent_calls;
        pool.total_component_instances(slots)
            .total_core_instances(slots * 16)
            .max_core_instances_per_component(16)
            .total_memories(slots * 2)
            .max_memories_per_component(2)
            .total_tables(slots * 8)
            .max_tables_per_component(8)
            .total_stacks(slots)
            .max_memory_size(memory_bytes)
            // Reset the first pages of a slot with memset and keep them mapped, instead of
            // returning them to the kernel after every call: `madvise` on each call costs a TLB
            // shootdown across cores, and connectors touch about this much per call.
            .linear_memory_keep_resident(defaults::KEEP_RESIDENT_BYTES)
            .table_keep_resident(defaults::KEEP_RESIDENT_BYTES / 16)
            .async_stack_keep_resident(defaults::KEEP_RESIDENT_BYTES / 4)
            // Return unused memory to the kernel in batches rather than slot by slot.
            .decommit_batch_size(16)
            // Where the kernel can tell (Linux 6.7+), reset only the pages a call dirtied.
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm)?;

        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::v0_1::Channel::add_to_linker::<_, wasmtime::component::HasSelf<CallState>>(&mut linker, |s| s)?;
        bindings::v0_2::Additions::add_to_linker::<_, wasmtime::component::HasSelf<CallState>>(&mut linker, |s| s)?;

        let tick = Duration::from_millis(config.epoch_tick_ms);
        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new().name("switchboard-epoch".into()).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })?;
        }

        Ok(Runtime {
            engine,
            linker,
            permits: Arc::new(Semaphore::new(slots as usize)),
            limits: Limits {
                deadline: Duration::from_millis(config.call_deadline_ms),
                memory_bytes,
                memory_mib: config.memory_limit_mib,
                queue_timeout: Duration::from_millis(config.queue_timeout_ms),
                max_concurrent: slots,
            },
            cache: cache::CompileCache::new(Some(config.cache_dir.clone())),
            stats: Arc::new(RuntimeStats::default()),
            egress: Arc::new(egress_pool::EgressPool::new(
                Duration::from_millis(defaults::EGRESS_IDLE_TIMEOUT_MS),
                defaults::EGRESS_MAX_IDLE_PER_DESTINATION,
                resolver::Resolver::new(Duration::from_millis(defaults::EGRESS_DNS_TTL_MS), defaults::EGRESS_DNS_CACHE_ENTRIES),
            )),
            ticker_stop,
        })
    }

    /// The runtime's counters.
    pub fn stats(&self) -> &Arc<RuntimeStats> {
        &self.stats
    }

    /// Verify and translate one webhook request.
    pub async fn handle_webhook(
        &self,
        connector: &LoadedConnector,
        channel: Arc<ChannelContext>,
        request: wit::HttpRequest,
    ) -> Result<Result<wit::WebhookOutcome, wit::WebhookRejection>, CallError> {
        match self.invoke(connector, channel, Call::Webhook(request)).await? {
            Reply::Webhook(r) => Ok(r),
            _ => unreachable!("handle-webhook returns a webhook reply"),
        }
    }

    /// Deliver one message.
    pub async fn send(
        &self,
        connector: &LoadedConnector,
        channel: Arc<ChannelContext>,
        message: wit::OutboundMessage,
    ) -> Result<Result<wit::SendReceipt, wit::SendError>, CallError> {
        match self.invoke(connector, channel, Call::Send(message)).await? {
            Reply::Send(r) => Ok(r),
            _ => unreachable!("send returns a send reply"),
        }
    }

    /// Perform an action.
    pub async fn act(
        &self,
        connector: &LoadedConnector,
        channel: Arc<ChannelContext>,
        action: wit::Action,
    ) -> Result<Result<wit::ActionReceipt, wit::SendError>, CallError> {
        match self.invoke(connector, channel, Call::Act(action)).await? {
            Reply::Act(r) => Ok(r),
            _ => unreachable!("act returns an action reply"),
        }
    }

    /// Download a media item.
    pub async fn fetch_media(
        &self,
        connector: &LoadedConnector,
        channel: Arc<ChannelContext>,
        media: wit::Media,
    ) -> Result<Result<wit::FetchedMedia, wit::SendError>, CallError> {
        match self.invoke(connector, channel, Call::FetchMedia(media)).await? {
            Reply::FetchMedia(r) => Ok(r),
            _ => unreachable!("fetch-media returns a media reply"),
        }
    }

    /// Run `describe` in a fresh instance (used when loading).
    pub(crate) async fn describe(&self, pre: &bindings::v0_1::ChannelPre<CallState>, id_hint: &str) -> Result<wit::ConnectorInfo, CallError> {
        match self.run(pre, None, id_hint.into(), Arc::new(ChannelContext::detached()), Call::Describe).await? {
            Reply::Describe(info) => Ok(info),
            _ => unreachable!("describe returns connector info"),
        }
    }

    async fn invoke(&self, connector: &LoadedConnector, channel: Arc<ChannelContext>, call: Call) -> Result<Reply, CallError> {
        self.run(&connector.pre, Some(&connector.entrypoints), connector.info.id.as_str().into(), channel, call).await
    }

    async fn run(
        &self,
        pre: &bindings::v0_1::ChannelPre<CallState>,
        entrypoints: Option<&loader::Entrypoints>,
        connector_id: Arc<str>,
        channel: Arc<ChannelContext>,
        call: Call,
    ) -> Result<Reply, CallError> {
        RuntimeStats::bump(&self.stats.calls);
        let permit = tokio::time::timeout(self.limits.queue_timeout, self.permits.clone().acquire_owned()).await;
        let Ok(Ok(_permit)) = permit else {
            RuntimeStats::bump(&self.stats.busy);
            RuntimeStats::bump(&self.stats.call_failures);
            return Err(CallError::Busy(self.limits.max_concurrent));
        };
        let state = CallState::new(
            channel,
            connector_id,
            self.limits.memory_bytes,
            self.stats.clone(),
            self.egress.clone(),
            Duration::from_millis(defaults::EGRESS_CONNECT_TIMEOUT_MS),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        // Every epoch tick a running guest yields to tokio, so a busy guest never holds a worker
        // thread for more than one tick, and the deadline timer below can stop it.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);

        let work = async {
            let entrypoints = match (&call, entrypoints) {
                (Call::Describe, _) => {
                    // Through the generated bindings, which type-check every export of the
                    // contract: loading relies on this check (see below).
                    let instance = pre.instantiate_async(&mut store).await?;
                    return Ok(Reply::Describe(instance.switchboard_connector_connector().call_describe(&mut store).await?));
                }
                (_, Some(entrypoints)) => entrypoints,
                (_, None) => return Err(wasmtime::format_err!("only `describe` runs before a connector is loaded")),
            };
            // Only the called function is looked up, by the index found at load, and its types
            // are not checked again: loading ran `describe` through the generated bindings, which
            // type-checked all of this component's exports, and they are the same in every instance.
            let instance = pre.instance_pre().instantiate_async(&mut store).await?;
            let func = |store: &mut Store<CallState>, index| {
                instance.get_func(store, index).ok_or_else(|| wasmtime::format_err!("the connector lost an export it had at load"))
            };
            Ok(match call {
                Call::Webhook(request) => {
                    let f = func(&mut store, entrypoints.handle_webhook)?;
                    // SAFETY: the signature of `handle-webhook` in the contract; checked at load.
                    let f = unsafe { TypedFunc::<(&wit::HttpRequest,), (Result<wit::WebhookOutcome, wit::WebhookRejection>,)>::new_unchecked(f) };
                    Reply::Webhook(f.call_async(&mut store, (&request,)).await?.0)
                }
                Call::Send(message) => {
                    let f = func(&mut store, entrypoints.send)?;
                    // SAFETY: the signature of `send` in the contract; checked at load.
                    let f = unsafe { TypedFunc::<(&wit::OutboundMessage,), (Result<wit::SendReceipt, wit::SendError>,)>::new_unchecked(f) };
                    Reply::Send(f.call_async(&mut store, (&message,)).await?.0)
                }
                Call::Act(action) => {
                    let f = func(&mut store, entrypoints.act)?;
                    // SAFETY: the signature of `act` in the contract; checked at load.
                    let f = unsafe { TypedFunc::<(&wit::Action,), (Result<wit::ActionReceipt, wit::SendError>,)>::new_unchecked(f) };
                    Reply::Act(f.call_async(&mut store, (&action,)).await?.0)
                }
                Call::FetchMedia(media) => {
                    let f = func(&mut store, entrypoints.fetch_media)?;
                    // SAFETY: the signature of `fetch-media` in the contract; checked at load.
                    let f = unsafe { TypedFunc::<(&wit::Media,), (Result<wit::FetchedMedia, wit::SendError>,)>::new_unchecked(f) };
                    Reply::FetchMedia(f.call_async(&mut store, (&media,)).await?.0)
                }
                Call::Describe => unreachable!("`describe` runs through the bindings, above"),
            })
        };
        // One deadline for guests that compute (they yield at each tick) and guests that wait.
        let outcome = tokio::time::timeout(self.limits.deadline, work).await;
        let failure = match outcome {
            Ok(Ok(reply)) => return Ok(reply),
            Err(_elapsed) => CallError::Timeout(self.limits.deadline),
            Ok(Err(error)) => self.classify(&error, store.data()),
        };
        RuntimeStats::bump(&self.stats.call_failures);
        match failure {
            CallError::Timeout(_) => RuntimeStats::bump(&self.stats.timeouts),
            CallError::MemoryExceeded(_) => RuntimeStats::bump(&self.stats.memory_cap_hits),
            _ => {}
        }
        let data = store.data();
        tracing::warn!(
            tenant = %data.channel.tenant, channel = %data.channel.channel_id, connector = %data.connector_id,
            "connector call failed: {failure}"
        );
        Err(failure)
    }

    fn classify(&self, error: &wasmtime::Error, state: &CallState) -> CallError {
        if let Some(Trap::Interrupt) = error.downcast_ref::<Trap>() {
            return CallError::Timeout(self.limits.deadline);
        }
        if state.limits.memory_cap_hit {
            return CallError::MemoryExceeded(self.limits.memory_mib);
        }
        // The root cause is the guest's trap; the chain above it is wasmtime's call context.
        let root = error.root_cause().to_string();
        let summary = root.lines().next().unwrap_or("unknown trap").to_string();
        CallError::Trap(summary)
    }
}
