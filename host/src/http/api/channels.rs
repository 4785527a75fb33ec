//! Channels admin: list, add, remove. Secrets are accepted but never returned.

use super::auth::Caller;
use super::json::Body;
use crate::channels::Channel;
use crate::http::AppState;
use crate::http::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A channel as the API shows it: secret values are replaced by `"********"`.
pub fn channel_json(state: &AppState, channel: &Channel) -> Value {
    let connector = state.connectors.get(&channel.connector);
    let secret = |key: &str| connector.as_ref().is_none_or(|c| c.info.settings.iter().any(|s| s.key == key && s.secret));
    let settings: BTreeMap<&str, &str> =
        channel.settings.iter().map(|(k, v)| (k.as_str(), if secret(k) { "********" } else { v.as_str() })).collect();
    json!({
        "id": channel.id,
        "tenant": channel.tenant,
        "connector": channel.connector,
        "connector_loaded": connector.is_some(),
        "settings": settings,
        "egress": channel.egress,
        "allow_private_egress": channel.allow_private_egress,
        "human_agent_tag": channel.human_agent_tag,
        "webhook_url": format!("{}/hooks/{}", state.public_url, channel.id),
    })
}

/// The tenant's channels, with any health problem (such as refused credentials).
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let health = crate::store::channels::health(&state.db, &caller.0.tenant).await?;
    let items: Vec<Value> = state
        .channels
        .all()
        .iter()
        .filter(|c| c.tenant == caller.0.tenant)
        .map(|c| with_health(channel_json(&state, c), health.get(&c.id)))
        .collect();
    Ok(Json(json!({ "items": items })))
}

fn with_health(mut channel: Value, problem: Option<&Value>) -> Value {
    channel["health"] = problem.cloned().unwrap_or_else(|| json!({ "status": "ok" }));
    channel
}

/// One channel.
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let channel = state.channels.get(&id).filter(|c| c.tenant == caller.0.tenant).ok_or_else(|| ApiError::not_found(format!("no channel `{id}`")))?;
    let health = crate::store::channels::health(&state.db, &caller.0.tenant).await?;
    Ok(Json(with_health(channel_json(&state, &channel), health.get(&id))))
}

/// `POST /v1/channels` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    id: String,
    connector: String,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    egress: Option<Vec<String>>,
    #[serde(default)]
    allow_private_egress: bool,
    #[serde(default)]
    human_agent_tag: bool,
}

/// Add (or replace) a channel of the caller's tenant. Admins only.
pub async fn create(State(state): State<AppState>, caller: Caller, Body(r): Body<CreateChannel>) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    crate::domain::ids::check_slug(&r.id).map_err(|why| ApiError::invalid("id", why))?;
    if let Some(existing) = state.channels.get(&r.id)
        && existing.tenant != caller.0.tenant
    {
        return Err(ApiError::new(StatusCode::CONFLICT, "id_taken", format!("channel id `{}` is taken; choose another", r.id)));
    }
    let channel = Channel {
        id: r.id,
        tenant: caller.0.tenant.clone(),
        connector: r.connector,
        settings: r.settings,
        egress: r.egress,
        allow_private_egress: r.allow_private_egress,
        human_agent_tag: r.human_agent_tag,
    };
    let saved = crate::channels::save(&state.db, &state.sealer, &state.connectors, &state.channels, channel)
        .await
        .map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_channel", why))?;
    Ok((StatusCode::CREATED, Json(channel_json(&state, &saved))))
}

/// Remove a channel. Its conversations and history stay. Admins only.
pub async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    if state.channels.get(&id).filter(|c| c.tenant == caller.0.tenant).is_none() {
        return Err(ApiError::not_found(format!("no channel `{id}`")));
    }
    crate::store::channels::remove(&state.db, Some(&caller.0.tenant), &id).await?;
    // Other hosts drop it at their next refresh from the database.
    state.channels.remove(&id);
    Ok(StatusCode::NO_CONTENT)
}
