//! Attachments (media bytes kept by the host) and the queue of media to download.

use super::{Db, new_id, now_ms};
use crate::domain::content::Media;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// A stored attachment's description.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttachmentInfo {
    /// Its id.
    pub id: String,
    /// MIME type.
    pub mime_type: Option<String>,
    /// File name.
    pub filename: Option<String>,
    /// Size.
    pub size_bytes: i64,
    /// Hex SHA-256.
    pub sha256: String,
}

/// Store bytes as an attachment of a tenant (and a message, when known).
pub async fn create(db: &Db, tenant: &str, message: Option<&str>, mime: Option<&str>, filename: Option<&str>, data: &[u8]) -> sqlx::Result<AttachmentInfo> {
    let id = new_id();
    let sha256 = hex::encode(Sha256::digest(data));
    sqlx::query(
        "INSERT INTO attachments (id, tenant_id, message_id, mime_type, filename, size_bytes, sha256, data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(message)
    .bind(mime)
    .bind(filename)
    .bind(data.len() as i64)
    .bind(&sha256)
    .bind(data.to_vec())
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(AttachmentInfo { id, mime_type: mime.map(str::to_string), filename: filename.map(str::to_string), size_bytes: data.len() as i64, sha256 })
}

/// An attachment's description and bytes, within a tenant.
pub async fn get(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<(AttachmentInfo, Vec<u8>)>> {
    let row = sqlx::query("SELECT id, mime_type, filename, size_bytes, sha256, data FROM attachments WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| {
        (
            AttachmentInfo {
                id: r.get("id"),
                mime_type: r.get("mime_type"),
                filename: r.get("filename"),
                size_bytes: r.get("size_bytes"),
                sha256: r.get("sha256"),
            },
            r.get::<Vec<u8>, _>("data"),
        )
    }))
}

/// A claimed media download.
#[derive(Debug, Clone)]
pub struct MediaJob {
    /// The message.
    pub message_id: String,
    /// Which part.
    pub part_index: i64,
    /// Tenant.
    pub tenant: String,
    /// Channel.
    pub channel_id: String,
    /// The media item.
    pub media: Media,
    /// Attempts made.
    pub attempts: i64,
}

/// Claim due downloads.
pub async fn claim(db: &Db, owner: &str, limit: i64, lease_ms: i64) -> sqlx::Result<Vec<MediaJob>> {
    let now = now_ms();
    // Look before claiming: the claim is a write, and on SQLite even a write that changes nothing
    // takes the database's write lock, which the ingest writer would then have to wait for.
    let due: Option<i64> = sqlx::query_scalar("SELECT 1 FROM media_jobs WHERE next_attempt_at <= $1 AND lease_until < $1 LIMIT 1")
        .bind(now)
        .fetch_optional(&db.pool)
        .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let lock = db.dialect.skip_locked();
    let rows = sqlx::query(&format!(
        "UPDATE media_jobs SET lease_owner = $1, lease_until = $2 WHERE (message_id, part_index) IN (
             SELECT message_id, part_index FROM media_jobs WHERE next_attempt_at <= $3 AND lease_until < $3 ORDER BY next_attempt_at LIMIT {limit}{lock})
         RETURNING message_id, part_index, tenant_id, channel_id, media, attempts"
    ))
    .bind(owner)
    .bind(now + lease_ms)
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(MediaJob {
                message_id: r.get("message_id"),
                part_index: r.get("part_index"),
                tenant: r.get("tenant_id"),
                channel_id: r.get("channel_id"),
                media: serde_json::from_str(&r.get::<String, _>("media")).ok()?,
                attempts: r.get("attempts"),
            })
        })
        .collect())
}

/// Record the result on the message's part (an attachment id, or why the download failed) and
/// remove the job.
pub async fn finish(db: &Db, job: &MediaJob, outcome: Result<&AttachmentInfo, &str>) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    let parts: Option<String> = sqlx::query_scalar("SELECT parts FROM messages WHERE id = $1").bind(&job.message_id).fetch_optional(&mut *tx).await?;
    if let Some(parts) = parts {
        let mut parts: serde_json::Value = serde_json::from_str(&parts).unwrap_or_default();
        if let Some(media) = parts.get_mut(job.part_index as usize).and_then(|p| p.get_mut("media")) {
            match outcome {
                Ok(info) => {
                    media["attachment_id"] = serde_json::json!(info.id);
                    media["size_bytes"] = serde_json::json!(info.size_bytes);
                }
                Err(why) => media["download_error"] = serde_json::json!(why),
            }
        }
        sqlx::query("UPDATE messages SET parts = $1, updated_at = $2 WHERE id = $3")
            .bind(parts.to_string())
            .bind(now_ms())
            .bind(&job.message_id)
            .execute(&mut *tx)
            .await?;
        super::ingest::publish(
            &mut super::sql::Conn::Pooled(&mut tx),
            &job.tenant,
            "message.updated",
            &serde_json::json!({ "message_id": job.message_id, "part_index": job.part_index, "attachment": outcome.ok(), "error": outcome.err() }),
            now_ms(),
        )
        .await?;
    }
    sqlx::query("DELETE FROM media_jobs WHERE message_id = $1 AND part_index = $2")
        .bind(&job.message_id)
        .bind(job.part_index)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Try a download again later.
pub async fn retry_later(db: &Db, job: &MediaJob, at: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE media_jobs SET attempts = attempts + 1, next_attempt_at = $1, lease_owner = NULL, lease_until = 0 WHERE message_id = $2 AND part_index = $3")
        .bind(at)
        .bind(&job.message_id)
        .bind(job.part_index)
        .execute(&db.pool)
        .await?;
    Ok(())
}
