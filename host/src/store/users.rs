//! Users (admins and agents), their API tokens, presence and capacity.

use super::{Db, new_id, now_ms};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Who is calling the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Their tenant.
    pub tenant: String,
    /// Their user id.
    pub user_id: String,
    /// `admin` or `agent`.
    pub role: String,
}

impl Principal {
    /// True for admins.
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Create a user; returns its id.
pub async fn create_user(db: &Db, tenant: &str, name: &str, role: &str) -> sqlx::Result<String> {
    super::channels::ensure_tenant(db, tenant).await?;
    let id = new_id();
    sqlx::query("INSERT INTO users (id, tenant_id, name, role, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(tenant)
        .bind(name)
        .bind(role)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(id)
}

/// Issue a new API token for a user. Only its hash is stored; the token is shown once.
pub async fn create_token(db: &Db, tenant: &str, user_id: &str) -> sqlx::Result<String> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("sb_{}", hex::encode(bytes));
    sqlx::query("INSERT INTO api_tokens (token_hash, tenant_id, user_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(hash_token(&token))
        .bind(tenant)
        .bind(user_id)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(token)
}

/// The principal a token belongs to.
pub async fn authenticate(db: &Db, token: &str) -> sqlx::Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT t.tenant_id, t.user_id, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Principal { tenant: r.get("tenant_id"), user_id: r.get("user_id"), role: r.get("role") }))
}

/// A user as the API shows it.
pub async fn get_user(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<serde_json::Value>> {
    let row = sqlx::query("SELECT id, name, role, presence, capacity, voice_address FROM users WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| user_json(&r)))
}

fn user_json(r: &sqlx::any::AnyRow) -> serde_json::Value {
    let capacity: serde_json::Value = serde_json::from_str(&r.get::<String, _>("capacity")).unwrap_or_default();
    serde_json::json!({
        "id": r.get::<String, _>("id"), "name": r.get::<String, _>("name"), "role": r.get::<String, _>("role"),
        "presence": r.get::<String, _>("presence"), "capacity": capacity, "voice_address": r.get::<Option<String>, _>("voice_address"),
    })
}

/// Every user of a tenant.
pub async fn list_users(db: &Db, tenant: &str) -> sqlx::Result<Vec<serde_json::Value>> {
    let rows = sqlx::query("SELECT id, name, role, presence, capacity, voice_address FROM users WHERE tenant_id = $1 ORDER BY id")
        .bind(tenant)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.iter().map(user_json).collect())
}

/// Set a user's presence and, when given, per-channel-kind capacity.
pub async fn set_presence(
    db: &Db,
    tenant: &str,
    id: &str,
    presence: &str,
    capacity: Option<&serde_json::Value>,
    voice_address: Option<&str>,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE users SET presence = $1, capacity = COALESCE($2, capacity), voice_address = COALESCE($3, voice_address) WHERE id = $4 AND tenant_id = $5",
    )
        .bind(presence)
        .bind(capacity.map(|c| c.to_string()))
        .bind(voice_address)
        .bind(id)
        .bind(tenant)
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected() > 0)
}
