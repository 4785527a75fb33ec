//! Attachments: media the host keeps, downloaded from providers or uploaded for sending.

use super::auth::Caller;
use super::json::Params;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::attachments;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

/// Download an attachment's bytes.
pub async fn download(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let (info, data) = attachments::get(&state.db, &caller.0.tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no attachment `{id}`")))?;
    let mime = info.mime_type.unwrap_or_else(|| "application/octet-stream".into());
    let disposition = match &info.filename {
        Some(name) => format!("attachment; filename=\"{}\"", name.replace(['"', '\r', '\n'], "")),
        None => "attachment".into(),
    };
    Ok(([(header::CONTENT_TYPE, mime), (header::CONTENT_DISPOSITION, disposition)], data))
}

/// `POST /v1/attachments` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadParams {
    filename: Option<String>,
}

/// Upload bytes (the raw body, with its `Content-Type`) to send as media later.
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Params(p): Params<UploadParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid("body", "is empty; send the file's bytes as the request body"));
    }
    let mime = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(name) = &p.filename
        && (name.is_empty() || name.len() > 200)
    {
        return Err(ApiError::invalid("filename", "must be 1 to 200 characters"));
    }
    let info = attachments::create(&state.db, &caller.0.tenant, None, mime.as_deref(), p.filename.as_deref(), &body).await?;
    Ok((StatusCode::CREATED, Json(info)))
}
