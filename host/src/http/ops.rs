//! Health, readiness and metrics.

use super::AppState;
use super::error::ApiError;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use std::sync::atomic::Ordering;

/// Liveness: the process answers.
pub async fn health() -> &'static str {
    "ok"
}

/// Readiness: connectors and channels are loaded.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Prometheus metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let body = state.connectors.runtime().stats().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; webhooks are at /hooks/{channel}")
}

/// The API's OpenAPI document.
pub async fn openapi() -> impl IntoResponse {
    axum::Json(super::openapi::document())
}
