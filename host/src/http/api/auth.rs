//! Bearer tokens.

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::store::users::{Principal, authenticate};
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens verified recently, so that an agent's burst of requests costs one database read. Keyed
/// by the token's SHA-256, never the token. Only valid tokens are kept, so a new token works at
/// once; a token removed from the database stops working within the time-to-live.
pub struct TokenCache {
    verified: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    ttl: Duration,
    capacity: usize,
}

impl TokenCache {
    /// A cache that trusts a verification for `ttl` and holds at most `capacity` tokens.
    pub fn new(ttl: Duration, capacity: usize) -> TokenCache {
        TokenCache { verified: Mutex::new(HashMap::new()), ttl, capacity }
    }

    /// The caller behind `token`: from the cache, or from the database.
    pub async fn authenticate(&self, db: &crate::store::Db, token: &str) -> sqlx::Result<Option<Principal>> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((principal, at)) = self.verified.lock().unwrap().get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(principal.clone()));
        }
        let found = authenticate(db, token).await?;
        if let Some(principal) = &found {
            let mut verified = self.verified.lock().unwrap();
            if verified.len() >= self.capacity {
                let ttl = self.ttl;
                verified.retain(|_, (_, at)| at.elapsed() < ttl);
                if verified.len() >= self.capacity {
                    verified.clear();
                }
            }
            verified.insert(key, (principal.clone(), Instant::now()));
        }
        Ok(found)
    }
}

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
        match state.tokens.authenticate(&state.db, token).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Db, channels, users};

    #[tokio::test]
    async fn a_removed_token_works_only_until_its_verification_expires() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        channels::ensure_tenant(&db, "acme").await.unwrap();
        let user = users::create_user(&db, "acme", "ada", "agent").await.unwrap();
        let token = users::create_token(&db, "acme", &user).await.unwrap();
        let trusting = TokenCache::new(Duration::from_secs(60), 10);
        let checking = TokenCache::new(Duration::ZERO, 10);
        for cache in [&trusting, &checking] {
            assert_eq!(cache.authenticate(&db, &token).await.unwrap().map(|p| p.user_id), Some(user.clone()));
        }
        sqlx::query("DELETE FROM api_tokens").execute(&db.pool).await.unwrap();
        assert!(trusting.authenticate(&db, &token).await.unwrap().is_some(), "verified within the time-to-live");
        assert!(checking.authenticate(&db, &token).await.unwrap().is_none(), "expired: asked the database again");
        assert!(trusting.authenticate(&db, "sb_not-a-token").await.unwrap().is_none());
    }
}
