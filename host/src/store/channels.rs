//! Tenants, channels (with their secrets sealed), and connectors' per-channel state.

use super::secrets::SecretBox;
use super::{Db, now_ms};
use crate::channels::Channel;
use sqlx::Row;
use std::collections::BTreeMap;

/// Create the tenant if it does not exist.
pub async fn ensure_tenant(db: &Db, id: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(id)
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Insert or update a channel. `is_secret` says which settings are secrets (from the connector's
/// description); those are sealed, the rest stored as they are.
pub async fn upsert(db: &Db, sealer: &SecretBox, channel: &Channel, is_secret: impl Fn(&str) -> bool) -> sqlx::Result<()> {
    ensure_tenant(db, &channel.tenant).await?;
    let (secret, plain): (BTreeMap<_, _>, BTreeMap<_, _>) = channel.settings.iter().partition(|(k, _)| is_secret(k));
    let sealed = sealer.seal(serde_json::to_string(&secret).unwrap().as_bytes());
    let now = now_ms();
    sqlx::query(
        "INSERT INTO channels (id, tenant_id, connector, settings, secrets, egress, allow_private_egress, human_agent_tag, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (id) DO UPDATE SET connector = excluded.connector, settings = excluded.settings, secrets = excluded.secrets,
             egress = excluded.egress, allow_private_egress = excluded.allow_private_egress, human_agent_tag = excluded.human_agent_tag,
             updated_at = excluded.updated_at",
    )
    .bind(&channel.id)
    .bind(&channel.tenant)
    .bind(&channel.connector)
    .bind(serde_json::to_string(&plain).unwrap())
    .bind(sealed)
    .bind(channel.egress.as_ref().map(|e| serde_json::to_string(e).unwrap()))
    .bind(i64::from(channel.allow_private_egress))
    .bind(i64::from(channel.human_agent_tag))
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

fn decode(sealer: &SecretBox, row: &sqlx::any::AnyRow) -> anyhow::Result<Channel> {
    let id: String = row.get("id");
    let mut settings: BTreeMap<String, String> = serde_json::from_str(&row.get::<String, _>("settings"))?;
    let opened = sealer.open(&row.get::<String, _>("secrets")).map_err(|e| anyhow::anyhow!("channel `{id}`: {e}"))?;
    let secrets: BTreeMap<String, String> = serde_json::from_slice(&opened)?;
    settings.extend(secrets);
    let egress: Option<String> = row.get("egress");
    Ok(Channel {
        id,
        tenant: row.get("tenant_id"),
        connector: row.get("connector"),
        settings,
        egress: egress.map(|e| serde_json::from_str(&e)).transpose()?,
        allow_private_egress: row.get::<i64, _>("allow_private_egress") != 0,
        human_agent_tag: row.get::<i64, _>("human_agent_tag") != 0,
    })
}

const COLUMNS: &str = "id, tenant_id, connector, settings, secrets, egress, allow_private_egress, human_agent_tag";

/// One channel by id, with its secrets opened.
pub async fn get(db: &Db, sealer: &SecretBox, id: &str) -> anyhow::Result<Option<Channel>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| decode(sealer, &r)).transpose()
}

/// Every channel, or a tenant's, sorted by id.
pub async fn list(db: &Db, sealer: &SecretBox, tenant: Option<&str>) -> anyhow::Result<Vec<Channel>> {
    let rows = match tenant {
        Some(t) => {
            sqlx::query(&format!("SELECT {COLUMNS} FROM channels WHERE tenant_id = $1 ORDER BY id"))
                .bind(t)
                .fetch_all(&db.pool)
                .await?
        }
        None => sqlx::query(&format!("SELECT {COLUMNS} FROM channels ORDER BY id")).fetch_all(&db.pool).await?,
    };
    rows.iter().map(|r| decode(sealer, r)).collect()
}

/// Remove a channel of a tenant. Its history stays.
pub async fn remove(db: &Db, tenant: Option<&str>, id: &str) -> sqlx::Result<bool> {
    let result = match tenant {
        Some(t) => sqlx::query("DELETE FROM channels WHERE id = $1 AND tenant_id = $2").bind(id).bind(t).execute(&db.pool).await?,
        None => sqlx::query("DELETE FROM channels WHERE id = $1").bind(id).execute(&db.pool).await?,
    };
    Ok(result.rows_affected() > 0)
}

/// Connector state kept in the database.
pub struct DbStateStore {
    db: Db,
}

impl DbStateStore {
    /// State in this database.
    pub fn new(db: Db) -> DbStateStore {
        DbStateStore { db }
    }
}

#[async_trait::async_trait]
impl crate::runtime::StateStore for DbStateStore {
    async fn get(&self, tenant: &str, channel: &str, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        use base64::Engine as _;
        let value: Option<String> = sqlx::query_scalar("SELECT value FROM connector_state WHERE channel_id = $1 AND key = $2 AND tenant_id = $3")
            .bind(channel)
            .bind(key)
            .bind(tenant)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(value.map(|v| base64::engine::general_purpose::STANDARD.decode(v)).transpose()?)
    }

    async fn set(&self, tenant: &str, channel: &str, key: &str, value: &[u8], max_keys: usize) -> anyhow::Result<Result<(), String>> {
        use base64::Engine as _;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM connector_state WHERE channel_id = $1 AND key <> $2")
            .bind(channel)
            .bind(key)
            .fetch_one(&self.db.pool)
            .await?;
        if count as usize >= max_keys {
            return Ok(Err(format!("the channel already holds {max_keys} state keys")));
        }
        sqlx::query(
            "INSERT INTO connector_state (channel_id, key, tenant_id, value) VALUES ($1, $2, $3, $4)
             ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(channel)
        .bind(key)
        .bind(tenant)
        .bind(base64::engine::general_purpose::STANDARD.encode(value))
        .execute(&self.db.pool)
        .await?;
        Ok(Ok(()))
    }

    async fn delete(&self, tenant: &str, channel: &str, key: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM connector_state WHERE channel_id = $1 AND key = $2 AND tenant_id = $3")
            .bind(channel)
            .bind(key)
            .bind(tenant)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }
}

/// Record (or clear, with `None`) a channel's health problem, such as refused credentials.
pub async fn set_health(db: &Db, id: &str, problem: Option<&serde_json::Value>) -> sqlx::Result<()> {
    sqlx::query("UPDATE channels SET health = $1 WHERE id = $2")
        .bind(problem.map(|p| p.to_string()))
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Health problems of channels, by id.
pub async fn health(db: &Db, tenant: &str) -> sqlx::Result<std::collections::HashMap<String, serde_json::Value>> {
    let rows = sqlx::query("SELECT id, health FROM channels WHERE tenant_id = $1 AND health IS NOT NULL").bind(tenant).fetch_all(&db.pool).await?;
    Ok(rows
        .iter()
        .filter_map(|r| Some((r.get::<String, _>("id"), serde_json::from_str(&r.get::<String, _>("health")).ok()?)))
        .collect())
}
