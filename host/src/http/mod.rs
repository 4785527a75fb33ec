//! The HTTP server: provider webhooks, health and metrics (and, later, the agent API).

pub mod api;
pub mod error;
pub mod hooks;
pub mod openapi;
pub mod ops;

use crate::channels::ChannelDirectory;
use crate::runtime::registry::ConnectorRegistry;
use axum::Router;
use axum::routing::{any, get};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// What every handler can reach: a handle that axum clones for every request and extractor,
/// so one reference count instead of one per service.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl AppState {
    /// A handle on `shared`.
    pub fn new(shared: SharedState) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct SharedState {
    /// Loaded connectors.
    pub connectors: Arc<ConnectorRegistry>,
    /// Configured channels.
    pub channels: Arc<ChannelDirectory>,
    /// The public base URL, without a trailing slash.
    pub public_url: Arc<str>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Set once the host has loaded everything and can take traffic.
    pub ready: Arc<AtomicBool>,
    /// The database.
    pub db: crate::store::Db,
    /// The durable ingest queue.
    pub ingestor: crate::ingest::Ingestor,
    /// Seals channel secrets.
    pub sealer: crate::store::secrets::SecretBox,
    /// Bumped after each commit that published events, to wake event streams.
    pub events: Arc<tokio::sync::watch::Sender<u64>>,
    /// API tokens verified recently.
    pub tokens: Arc<api::auth::TokenCache>,
}

impl SharedState {
    /// Wake this host's event streams.
    pub fn bump_events(&self) {
        self.events.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/hooks/{channel}", any(hooks::receive))
        .route("/healthz", get(ops::health))
        .route("/readyz", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .merge(api::routes())
        .fallback(ops::not_found)
        .with_state(state)
}
