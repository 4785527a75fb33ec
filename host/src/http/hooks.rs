//! `/hooks/{channel}`: provider webhooks.
//!
//! The request goes whole to the channel's connector. Its events are committed before the
//! connector's reply goes back to the provider; a rejected, malformed or oversize request stores
//! nothing.

use super::AppState;
use super::error::ApiError;
use crate::runtime::CallError;
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Receive one webhook.
pub async fn receive(State(state): State<AppState>, Path(channel_id): Path<String>, request: Request) -> Response {
    match receive_inner(&state, &channel_id, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn receive_inner(state: &AppState, channel_id: &str, request: Request) -> Result<Response, ApiError> {
    let channel = match state.channels.get(channel_id) {
        Some(c) => c,
        // Another host sharing the database may have added it since this host started.
        None => match crate::store::channels::get(&state.db, &state.sealer, channel_id).await {
            Ok(Some(c)) => {
                state.channels.upsert(c.clone());
                std::sync::Arc::new(c)
            }
            Ok(None) => {
                return Err(ApiError::not_found(format!("no channel `{channel_id}`; check the webhook URL configured at the provider")));
            }
            Err(e) => return Err(ApiError::internal(e)),
        },
    };
    let connector = state.connectors.get(&channel.connector).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "connector_unavailable",
            format!("channel `{channel_id}` uses connector `{}`, which is not loaded", channel.connector),
        )
    })?;
    let context = state.channels.context(channel_id, &connector).map_err(|why| {
        tracing::error!(channel = %channel_id, "channel misconfigured: {why}");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "channel_misconfigured", "the channel is misconfigured; see the host's logs")
    })?;

    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, state.max_body_bytes).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body exceeds {} bytes (server.max_body_bytes)", state.max_body_bytes),
        )
    })?;
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let url = if query.is_empty() {
        format!("{}{path}", state.public_url)
    } else {
        format!("{}{path}?{query}", state.public_url)
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some(wit::Header { name: name.as_str().to_string(), value: value.to_str().ok()?.to_string() })
        })
        .collect();
    let wire = wit::HttpRequest { method: parts.method.as_str().to_string(), url, path, query, headers, body: body.to_vec() };

    match state.connectors.runtime().handle_webhook(&connector, context, wire).await {
        Ok(Ok(outcome)) => {
            // Commit first; only a durable webhook is acknowledged.
            let events = outcome.events.iter().map(crate::ingest::translate::event).collect();
            let tier = crate::domain::routing::tier_of(crate::ingest::translate::channel_kind_name(connector.info.kind));
            let report = state.ingestor.commit(&channel.tenant, channel_id, tier, events).await.map_err(|e| {
                tracing::error!(channel = %channel_id, "webhook not stored: {e}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", "the events could not be stored; retry later")
            })?;
            tracing::debug!(channel = %channel_id, ?report, "webhook stored");
            state.bump_events();
            Ok(provider_reply(outcome.response))
        }
        Ok(Err(rejection)) => {
            // A connector may refuse with a 4xx only; anything else is the connector's own failure.
            let Some(status) = StatusCode::from_u16(rejection.status).ok().filter(|s| s.is_client_error()) else {
                tracing::error!(channel = %channel_id, status = rejection.status, "connector failed the webhook: {}", rejection.reason);
                return Err(ApiError::new(StatusCode::BAD_GATEWAY, "connector_failed", rejection.reason));
            };
            tracing::info!(channel = %channel_id, status = status.as_u16(), "webhook rejected: {}", rejection.reason);
            Err(ApiError::new(status, "webhook_rejected", rejection.reason))
        }
        Err(CallError::Busy(n)) => {
            let mut response =
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", format!("all {n} connector slots are busy; retry shortly")).into_response();
            response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
            Ok(response)
        }
        Err(error) => Err(ApiError::new(StatusCode::BAD_GATEWAY, "connector_failed", error.to_string())),
    }
}

/// The connector's reply, checked: a bad status or header from a connector never reaches the
/// provider as garbage.
fn provider_reply(reply: wit::HttpResponse) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = status;
    for header in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(header.name.as_str()), HeaderValue::try_from(header.value.as_str())) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
