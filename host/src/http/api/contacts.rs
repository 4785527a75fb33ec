//! Contacts: one customer across channels, their timeline, attributes, notes and merges.

use super::auth::Caller;
use super::conversations::{NoteRequest, check_note};
use super::json::{Body, Params};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::conversations as store;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

/// `GET /v1/contacts` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Text found in the name, phone or email.
    q: String,
    limit: Option<i64>,
}

/// Search contacts.
pub async fn search(State(state): State<AppState>, caller: Caller, Params(p): Params<SearchParams>) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 100"));
    }
    if p.q.trim().is_empty() || p.q.len() > 200 {
        return Err(ApiError::invalid("q", "must be 1 to 200 characters"));
    }
    let items = store::search_contacts(&state.db, &caller.0.tenant, p.q.trim(), limit).await?;
    Ok(Json(json!({ "items": items })))
}

/// A contact with identities, attributes, notes and the cross-channel timeline.
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let mut contact = store::contact(&state.db, &caller.0.tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no contact `{id}`")))?;
    contact["notes"] = json!(store::notes(&state.db, &caller.0.tenant, None, Some(&id)).await?);
    Ok(Json(contact))
}

/// Merge attributes (`null` removes one).
pub async fn set_attributes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(changes): Body<serde_json::Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    if changes.len() > 100 {
        return Err(ApiError::invalid("attributes", "has more than 100 entries in one change"));
    }
    if let Some(k) = changes.keys().find(|k| k.is_empty() || k.len() > 64) {
        return Err(ApiError::invalid("attributes", format!("key `{k}` must be 1 to 64 characters")));
    }
    if !store::set_attributes(&state.db, &caller.0.tenant, &id, &changes).await? {
        return Err(ApiError::not_found(format!("no contact `{id}`")));
    }
    get(State(state), caller, Path(id)).await
}

/// Add a note about the customer; it shows in every later conversation.
pub async fn add_note(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<NoteRequest>) -> Result<impl IntoResponse, ApiError> {
    check_note(&r.body)?;
    if store::contact(&state.db, &caller.0.tenant, &id).await?.is_none() {
        return Err(ApiError::not_found(format!("no contact `{id}`")));
    }
    let note = store::add_note(&state.db, &caller.0.tenant, None, &id, &caller.0.user_id, &r.body).await?;
    state.bump_events();
    Ok((StatusCode::CREATED, Json(note)))
}

/// `POST /v1/contacts/{id}/merge` body: the contact merged into this one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    from: String,
}

/// Merge another contact into this one.
pub async fn merge(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<MergeRequest>) -> Result<Json<Value>, ApiError> {
    if r.from == id {
        return Err(ApiError::invalid("from", "is this contact; name the other one"));
    }
    if !store::merge_contacts(&state.db, &caller.0.tenant, &id, &r.from).await? {
        return Err(ApiError::not_found(format!("no unmerged contacts `{id}` and `{}`", r.from)));
    }
    state.bump_events();
    get(State(state), caller, Path(id)).await
}
