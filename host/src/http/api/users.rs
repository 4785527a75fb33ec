//! Users, and agents' presence and capacity.

use super::auth::Caller;
use super::json::Body;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::users;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

/// The caller.
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = users::get_user(&state.db, &caller.0.tenant, &caller.0.user_id).await?;
    Ok(Json(json!({ "tenant": caller.0.tenant, "user": user })))
}

/// The tenant's users.
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": users::list_users(&state.db, &caller.0.tenant).await? })))
}

/// Roles a user can have.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages channels and users.
    Admin,
    /// Works conversations.
    Agent,
}

/// `POST /v1/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    name: String,
    role: Role,
}

/// Create a user in the caller's tenant, with a token (shown once). Admins only.
pub async fn create(State(state): State<AppState>, caller: Caller, Body(r): Body<CreateUser>) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    if r.name.trim().is_empty() || r.name.len() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    let role = match r.role {
        Role::Admin => "admin",
        Role::Agent => "agent",
    };
    let id = users::create_user(&state.db, &caller.0.tenant, r.name.trim(), role).await?;
    let token = users::create_token(&state.db, &caller.0.tenant, &id).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "role": role, "token": token }))))
}

/// Presence states.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Takes new work.
    Available,
    /// Keeps current work, takes no new work.
    Away,
    /// Not working.
    Offline,
}

/// `PUT /v1/me/presence` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    presence: Presence,
    /// Concurrent items per channel kind, e.g. `{"voice": 1, "whatsapp": 4}`.
    capacity: Option<std::collections::BTreeMap<String, u32>>,
    /// Where calls ring this agent: `client:alice`, `sip:alice@pbx.example.com` or a number.
    voice_address: Option<String>,
}

/// Set the caller's presence and capacity; routing and the voice bridge read them.
pub async fn set_presence(State(state): State<AppState>, caller: Caller, Body(r): Body<PresenceRequest>) -> Result<Json<Value>, ApiError> {
    let presence = match r.presence {
        Presence::Available => "available",
        Presence::Away => "away",
        Presence::Offline => "offline",
    };
    if let Some(capacity) = &r.capacity
        && (capacity.len() > 20 || capacity.values().any(|n| *n > 100))
    {
        return Err(ApiError::invalid("capacity", "allows at most 20 channel kinds, each at most 100"));
    }
    let valid_address = |a: &str| (a.starts_with("client:") || a.starts_with("sip:") || a.starts_with('+')) && a.len() <= 200;
    if r.voice_address.as_deref().is_some_and(|a| !valid_address(a)) {
        return Err(ApiError::invalid("voice_address", "must be `client:NAME`, `sip:USER@HOST` or a number in E.164 (+15551234567)"));
    }
    let capacity = r.capacity.map(|c| json!(c));
    users::set_presence(&state.db, &caller.0.tenant, &caller.0.user_id, presence, capacity.as_ref(), r.voice_address.as_deref()).await?;
    state.bump_events();
    me(State(state), caller).await
}
