//! Assembling and starting a host from its configuration.

use crate::channels::{Channel, ChannelDirectory, ChannelServices};
use crate::config::Config;
use crate::http::{AppState, router};
use crate::runtime::registry::ConnectorRegistry;
use crate::ingest::Ingestor;
use crate::runtime::Runtime;
use crate::store::secrets::SecretBox;
use crate::store::{Db, Dialect};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A started host.
pub struct Host {
    /// The address the server listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The loaded connectors.
    pub connectors: Arc<ConnectorRegistry>,
    /// The configured channels.
    pub channels: Arc<ChannelDirectory>,
    /// The database.
    pub db: Db,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// What a host runs on, opened without serving: the CLI's channel and user commands use it too.
pub struct Services {
    /// Loaded connectors.
    pub connectors: Arc<ConnectorRegistry>,
    /// Channels, from the database (after the configuration's are saved).
    pub channels: Arc<ChannelDirectory>,
    /// The database.
    pub db: Db,
    /// Seals channel secrets.
    pub sealer: SecretBox,
    /// The public base URL.
    pub public_url: String,
}

impl Services {
    /// Load connectors, open and migrate the database, save the configuration's channels and
    /// load every channel.
    pub async fn open(config: &Config) -> anyhow::Result<Services> {
        let runtime = Arc::new(Runtime::new(&config.runtime)?);
        let connectors = Arc::new(ConnectorRegistry::new(
            runtime,
            Some(config.runtime.connector_dir.clone()),
            config.runtime.connectors.clone(),
        ));
        connectors.load_all().await?;

        let db = Db::connect(&config.storage.url).await?;
        let sealer = secret_box(config)?;
        let public_url = config.public_url();
        let channels = Arc::new(ChannelDirectory::new(ChannelServices {
            public_url: public_url.clone(),
            state: Arc::new(crate::store::channels::DbStateStore::new(db.clone())),
            router: Arc::new(crate::store::calls::DbCallRouter::new(
                db.clone(),
                crate::domain::voice::VoicePolicy {
                    ring_seconds: config.routing.ring_seconds,
                    max_queue: config.routing.max_queue,
                    average_handle_seconds: config.routing.average_handle_seconds,
                },
                crate::domain::voice::BusinessHours::parse(&config.routing.business_hours).map_err(anyhow::Error::msg)?,
                config.routing.utc_offset_minutes,
            )),
        }));
        for declared in &config.channels {
            crate::channels::save(&db, &sealer, &connectors, &channels, Channel::from(declared)).await.map_err(anyhow::Error::msg)?;
        }
        for channel in crate::store::channels::list(&db, &sealer, None).await? {
            if connectors.get(&channel.connector).is_none() {
                tracing::warn!(channel = %channel.id, connector = %channel.connector, "the channel's connector is not loaded; its webhook answers 503");
            }
            channels.upsert(channel);
        }
        Ok(Services { connectors, channels, db, sealer, public_url })
    }
}

impl Host {
    /// Load everything, bind the listener and start serving. Any problem with the configuration,
    /// a connector file or a channel is an error before the host takes traffic.
    pub async fn start(config: Config) -> anyhow::Result<Host> {
        let Services { connectors, channels, db, sealer, public_url } = Services::open(&config).await?;
        let workers = match db.dialect {
            Dialect::Sqlite => crate::config::defaults::INGEST_WORKERS_SQLITE,
            Dialect::Postgres => crate::config::defaults::INGEST_WORKERS_POSTGRES,
        };
        let reopen_window_ms = (config.conversations.reopen_window_minutes * 60_000) as i64;
        let (handoff, intake) = crate::delivery::handoff(&config.delivery);
        let ingestor = Ingestor::start(db.clone(), reopen_window_ms, workers, Some(handoff))
            .map_err(|e| anyhow::anyhow!("cannot start the storage writers: {e}"))?;
        crate::delivery::Dispatcher::spawn(db.clone(), ingestor.clone(), connectors.clone(), channels.clone(), config.delivery.clone(), intake);
        crate::delivery::media::spawn(
            db.clone(),
            connectors.clone(),
            channels.clone(),
            crate::config::defaults::MAX_ATTACHMENT_BYTES,
            Duration::from_millis(config.delivery.poll_interval_ms),
            config.delivery.retry_base_ms,
        );

        spawn_channel_refresh(db.clone(), sealer.clone(), channels.clone());
        if config.runtime.reload_interval_ms > 0 {
            connectors.spawn_watcher(Duration::from_millis(config.runtime.reload_interval_ms));
        }

        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (server.listen): {e}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let ready = Arc::new(AtomicBool::new(false));
        let state = AppState::new(crate::http::SharedState {
            connectors: connectors.clone(),
            channels: channels.clone(),
            public_url: public_url.into(),
            max_body_bytes: config.server.max_body_bytes,
            ready: ready.clone(),
            db: db.clone(),
            ingestor,
            sealer: sealer.clone(),
            events: Arc::new(tokio::sync::watch::channel(0u64).0),
            tokens: Arc::new(crate::http::api::auth::TokenCache::new(
                Duration::from_millis(crate::config::defaults::TOKEN_CACHE_TTL_MS),
                crate::config::defaults::TOKEN_CACHE_CAPACITY,
            )),
        });
        let (shutdown, mut watch) = tokio::sync::watch::channel(false);
        let app = router(state);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = watch.wait_for(|stop| *stop).await;
                })
                .await
        });
        ready.store(true, Ordering::Relaxed);
        tracing::info!(%addr, connectors = connectors.all().len(), channels = channels.all().len(), "switchboard is ready");
        Ok(Host { addr, connectors, channels, db, shutdown, server })
    }

    /// Stop accepting connections and wait for in-flight requests to finish.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await.unwrap_or(Ok(()))
    }

    /// Serve until the process is asked to stop (Ctrl-C or SIGTERM).
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// The key that seals channel secrets: the configured one, or (SQLite only) a key file beside the
/// database, created on first start.
fn secret_box(config: &Config) -> anyhow::Result<SecretBox> {
    if let Some(key) = &config.storage.encryption_key {
        return SecretBox::from_hex(key).ok_or_else(|| anyhow::anyhow!("storage.encryption_key must be 64 hex digits"));
    }
    let url = &config.storage.url;
    let Some(rest) = url.strip_prefix("sqlite:") else {
        anyhow::bail!(
            "storage.encryption_key is required with PostgreSQL, and every host sharing the database must use the same one; generate one with `openssl rand -hex 32`"
        );
    };
    let path = rest.trim_start_matches("//").split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return Ok(SecretBox::from_hex(&SecretBox::generate_key_hex()).expect("a generated key is valid"));
    }
    let key_file = std::path::PathBuf::from(format!("{path}.key"));
    if key_file.is_file() {
        let text = std::fs::read_to_string(&key_file)?;
        return SecretBox::from_hex(&text)
            .ok_or_else(|| anyhow::anyhow!("{} does not hold a 64-hex-digit key; restore it from backup", key_file.display()));
    }
    let key = SecretBox::generate_key_hex();
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key_file)?;
        file.write_all(key.as_bytes())?;
    }
    tracing::info!(file = %key_file.display(), "generated the key that encrypts channel secrets; back it up with the database");
    Ok(SecretBox::from_hex(&key).expect("a generated key is valid"))
}

/// Keep the channel directory in step with the database, which other hosts may change.
fn spawn_channel_refresh(db: Db, sealer: SecretBox, channels: Arc<ChannelDirectory>) {
    let weak = Arc::downgrade(&channels);
    drop(channels);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_millis(crate::config::defaults::CHANNEL_REFRESH_MS));
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let Some(channels) = weak.upgrade() else { break };
            match crate::store::channels::list(&db, &sealer, None).await {
                Ok(all) => channels.replace_all(all),
                Err(e) => tracing::warn!(error = %e, "could not refresh channels from the database"),
            }
        }
    });
}
