//! Bearer tokens.

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::users::{Principal, authenticate};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

/// The authenticated caller. Extracting it answers 401 without a valid token.
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send `Authorization: Bearer <token>`; create tokens with `switchboard user add`")
        })?;
        let token = header.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the Authorization header must be `Bearer <token>`")
        })?;
        match authenticate(&state.db, token).await {
            Ok(Some(p)) => Ok(Caller(p)),
            Ok(None) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the token is not valid")),
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

impl Caller {
    /// Refuse unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.0.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this needs an admin token"))
        }
    }
}
