//! Assembling and starting a host from its configuration.

use crate::channels::{Channel, ChannelDirectory, ChannelServices};
use crate::config::Config;
use crate::http::{AppState, router};
use crate::runtime::registry::ConnectorRegistry;
use crate::runtime::{MemoryStateStore, NoAgents, Runtime};
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
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Host {
    /// Load everything, bind the listener and start serving. Any problem with the configuration,
    /// a connector file or a channel is an error before the host takes traffic.
    pub async fn start(config: Config) -> anyhow::Result<Host> {
        let runtime = Arc::new(Runtime::new(&config.runtime)?);
        let connectors = Arc::new(ConnectorRegistry::new(
            runtime,
            Some(config.runtime.connector_dir.clone()),
            config.runtime.connectors.clone(),
        ));
        connectors.load_all().await?;

        let public_url = config.public_url();
        let channels = Arc::new(ChannelDirectory::new(ChannelServices {
            public_url: public_url.clone(),
            state: Arc::new(MemoryStateStore::default()),
            router: Arc::new(NoAgents),
        }));
        for declared in &config.channels {
            let channel = Channel::from(declared);
            let connector = connectors.get(&channel.connector).ok_or_else(|| {
                let loaded: Vec<String> = connectors.all().iter().map(|c| c.info.id.clone()).collect();
                anyhow::anyhow!(
                    "channel `{}` uses connector `{}`, which is not loaded (loaded: {}); put its .wasm file in runtime.connector_dir",
                    channel.id,
                    channel.connector,
                    if loaded.is_empty() { "none".to_string() } else { loaded.join(", ") }
                )
            })?;
            let settings = channel.resolve_settings(&connector.info).map_err(anyhow::Error::msg)?;
            channel.egress_policy(&connector.info, &settings).map_err(anyhow::Error::msg)?;
            channels.upsert(channel);
        }

        if config.runtime.reload_interval_ms > 0 {
            connectors.spawn_watcher(Duration::from_millis(config.runtime.reload_interval_ms));
        }

        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (server.listen): {e}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let ready = Arc::new(AtomicBool::new(false));
        let state = AppState {
            connectors: connectors.clone(),
            channels: channels.clone(),
            public_url: public_url.into(),
            max_body_bytes: config.server.max_body_bytes,
            ready: ready.clone(),
        };
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
        Ok(Host { addr, connectors, channels, shutdown, server })
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
