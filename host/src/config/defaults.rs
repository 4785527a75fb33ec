//! Every default of the host, in one place. Each can be overridden in the config file or with a
//! `SWITCHBOARD_<SECTION>__<KEY>` environment variable (see `config/mod.rs`).

/// Address the HTTP server listens on. Loopback by default: exposing the host is a choice.
pub const LISTEN: &str = "127.0.0.1:8080";

/// Largest webhook or API body accepted, in bytes (1 MiB). Larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Embedded SQLite database, created and migrated at start.
pub const DATABASE_URL: &str = "sqlite://switchboard.db";

/// Wall-clock budget of one connector call, in milliseconds. CPU-bound guests are interrupted by
/// epoch ticks; guests waiting on the network are cancelled by a timer. Either way the call fails
/// and the host carries on.
pub const CALL_DEADLINE_MS: u64 = 5_000;

/// Linear-memory cap of one connector instance, in MiB.
pub const MEMORY_LIMIT_MIB: u64 = 64;

/// Connector instances that may run at once (the size of the instance pool). Calls beyond this
/// wait for a free slot: back-pressure rather than unbounded memory.
pub const MAX_CONCURRENT_CALLS: u32 = 128;

/// Bytes of each instance slot's memory kept resident between calls and reset in place
/// (256 KiB): cheaper than giving pages back to the kernel, with a TLB shootdown, on every call,
/// and about what a connector built with a 128 KiB stack touches. Where Linux reports which
/// pages a call wrote (6.7+), only those are reset; elsewhere all of it is memset.
pub const KEEP_RESIDENT_BYTES: usize = 256 * 1024;

/// How long a call waits for a free instance slot before failing as busy, in milliseconds.
pub const QUEUE_TIMEOUT_MS: u64 = 2_000;

/// Epoch tick, in milliseconds: the granularity of the CPU deadline.
pub const EPOCH_TICK_MS: u64 = 5;

/// Where compiled connectors are cached, keyed by content and engine compatibility.
pub const CACHE_DIR: &str = ".switchboard/cache";

/// Where connector files (`*.wasm`) are loaded from.
pub const CONNECTOR_DIR: &str = "target/connectors";

/// How often connector files are checked for changes (hot reload), in milliseconds. 0 disables it.
pub const RELOAD_INTERVAL_MS: u64 = 1_000;

/// Largest value a connector may keep in one state key, in bytes.
pub const STATE_MAX_VALUE_BYTES: usize = 64 * 1024;

/// Most keys a connector may keep in its channel's state.
pub const STATE_MAX_KEYS: usize = 256;

/// Timeout to connect to a provider from a connector, in milliseconds.
pub const EGRESS_CONNECT_TIMEOUT_MS: u64 = 5_000;

/// How long a connection to a provider stays open, unused, for the next call, in milliseconds:
/// below the keep-alive timeouts providers use, so the host is the one that closes it.
pub const EGRESS_IDLE_TIMEOUT_MS: u64 = 20_000;

/// Idle connections kept per provider address: as many as the dispatcher sends at once.
pub const EGRESS_MAX_IDLE_PER_DESTINATION: usize = DISPATCH_CONCURRENCY;

/// How long, in milliseconds, the resolved addresses of a connector's destination are reused
/// before its name is looked up again: providers' API hosts change their records rarely, and a
/// lookup per send would cost more than the send's own work.
pub const EGRESS_DNS_TTL_MS: u64 = 30_000;

/// Destinations (host and port) whose resolved addresses are kept at once.
pub const EGRESS_DNS_CACHE_ENTRIES: usize = 1_024;

/// Log format: `text` for people, `json` for log pipelines.
pub const LOG_FORMAT: &str = "text";

/// Log filter, in `tracing` env-filter syntax; `RUST_LOG` overrides it.
pub const LOG_FILTER: &str = "info";

/// Minutes after resolution during which a customer's new message reopens the conversation
/// instead of starting a new one (one day).
pub const REOPEN_WINDOW_MINUTES: u64 = 24 * 60;

/// Concurrent ingest writers. SQLite has one writer at a time, so one; PostgreSQL can take more.
pub const INGEST_WORKERS_SQLITE: usize = 1;

/// Concurrent ingest writers on PostgreSQL.
pub const INGEST_WORKERS_POSTGRES: usize = 4;

/// First retry delay of a failed delivery, in milliseconds; later retries double it.
pub const RETRY_BASE_MS: u64 = 1_000;

/// Longest delay between delivery retries, in milliseconds (5 minutes).
pub const RETRY_CAP_MS: u64 = 300_000;

/// Delivery attempts before a message fails for good.
pub const MAX_ATTEMPTS: u32 = 10;

/// How often the dispatcher looks for due messages when nothing wakes it, in milliseconds.
pub const DISPATCH_POLL_MS: u64 = 250;

/// How long a host holds a claimed outbox row before another host may take it, in milliseconds.
pub const OUTBOX_LEASE_MS: u64 = 60_000;

/// Sends in flight at once per host.
pub const DISPATCH_CONCURRENCY: usize = 64;

/// How many rounds of sends (of `concurrency` each) the writers may hand the dispatcher ahead of
/// what it is sending; past that, queued messages wait in the outbox for a claim. Sixteen (1,024
/// rows at the default concurrency) keeps a burst of sends that outruns delivery for a moment in
/// memory: a row that spills into the outbox waits for claims, which newer rows handed over in
/// memory overtake (B4's p99 end-to-end latency was 16–620 ms with 4, 10–19 ms with 16).
pub const DISPATCH_INTAKE_BATCHES: usize = 16;

/// How often a host re-reads channels from the database, which other hosts may change, in
/// milliseconds.
pub const CHANNEL_REFRESH_MS: u64 = 5_000;

/// Largest media item downloaded from a provider and kept as an attachment (16 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 16 * 1024 * 1024;

/// When calls are answered: `always`, or e.g. `mon-fri 09:00-17:00, sat 10:00-14:00`.
pub const BUSINESS_HOURS: &str = "always";

/// The business's time zone, in minutes from UTC, for business hours.
pub const UTC_OFFSET_MINUTES: i32 = 0;

/// Seconds an agent's phone rings before the caller goes to voicemail.
pub const RING_SECONDS: u32 = 20;

/// Callers who may wait in the voice queue at once; more go to voicemail.
pub const MAX_QUEUE: u32 = 10;

/// Average length of a call, in seconds, for the expected wait announced to callers.
pub const AVERAGE_HANDLE_SECONDS: u32 = 180;

/// How long a verified API token is trusted before the database is asked again, in
/// milliseconds: a token removed from the database stops working within this time.
pub const TOKEN_CACHE_TTL_MS: u64 = 5_000;

/// Most API tokens remembered as verified at once.
pub const TOKEN_CACHE_CAPACITY: usize = 10_000;
