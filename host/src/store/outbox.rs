//! The outbox: messages waiting for delivery, claimed with leases so that several hosts sharing
//! one database never send the same row at the same time.

use super::Dialect;
use super::bulk::{Reads, Script, Value};
use super::ingest::{Events, apply_provider_error, apply_status};
use crate::domain::content::ProviderError;
use crate::domain::delivery::DeliveryState;
use super::sql::Conn;
use std::collections::{HashMap, HashSet};

/// A claimed outbox row.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The message.
    pub message_id: String,
    /// Its tenant.
    pub tenant: String,
    /// Its channel.
    pub channel_id: String,
    /// What to hand the connector.
    pub payload: serde_json::Value,
    /// Attempts made before this one.
    pub attempts: i64,
    /// When the lease runs out (Unix ms): after it, another claim may take the row.
    pub lease_until: i64,
}

/// Claim up to `limit` due rows for `owner` until `lease_ms` from `now`, in the caller's
/// transaction (the ingest writer's).
pub async fn claim(tx: &mut Conn<'_>, dialect: Dialect, owner: &str, limit: i64, lease_ms: i64, now: i64) -> sqlx::Result<Vec<Claimed>> {
    let pick = format!(
        "SELECT message_id FROM outbox WHERE next_attempt_at <= $3 AND lease_until < $3 ORDER BY next_attempt_at LIMIT {limit}{}",
        dialect.skip_locked()
    );
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2 WHERE message_id IN ({pick})
         RETURNING message_id, tenant_id, channel_id, payload, attempts"
    );
    let rows = tx.fetch_all(&sql, &[owner.into(), (now + lease_ms).into(), now.into()]).await?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            message_id: r.get("message_id"),
            tenant: r.get("tenant_id"),
            channel_id: r.get("channel_id"),
            payload: serde_json::from_str(&r.get::<String>("payload")).unwrap_or_default(),
            attempts: r.get("attempts"),
            lease_until: now + lease_ms,
        })
        .collect())
}

/// The provider accepted these messages: record their ids and the `queued` state, set-based.
/// `current` holds each message's status and conversation; a message whose status report came
/// before the receipt (in `early`) gets that report applied too, one by one.
async fn delivered(
    tx: &mut Conn<'_>,
    events: &Events,
    rows: &[(&Claimed, &str, Option<u32>)],
    current: &HashMap<String, (String, String)>,
    early: &HashSet<(String, String)>,
    now: i64,
) -> sqlx::Result<()> {
    let mut values = Vec::with_capacity(rows.len() * 4);
    let mut changes = Vec::new();
    let mut with_early = Vec::new();
    for (row, provider_id, segments) in rows {
        let Some((status, conversation)) = current.get(&row.message_id) else { continue };
        if early.contains(&(row.channel_id.clone(), provider_id.to_string())) {
            with_early.push((*row, *provider_id, *segments));
            continue;
        }
        let current = DeliveryState::parse(status).unwrap_or(DeliveryState::Pending);
        let next = current.advance(DeliveryState::Queued);
        values.extend([
            Value::from(&row.message_id),
            Value::from(provider_id.to_string()),
            Value::MaybeInt(segments.map(i64::from)),
            Value::from(next.unwrap_or(current).as_str()),
        ]);
        if let Some(next) = next {
            let data = serde_json::json!({ "conversation_id": conversation, "message_id": row.message_id, "status": next.as_str(), "error": null });
            changes.push((row.tenant.clone(), "message.status".to_string(), data.to_string()));
        }
    }
    let mut script = Script::new();
    let sql = "UPDATE messages SET provider_message_id = v.column2, segments = COALESCE(v.column3, messages.segments), status = v.column4,
               updated_at = $1 FROM (VALUES {values}) AS v WHERE messages.id = v.column1";
    script.for_each_row(sql, &[now.into()], 4, &values, "a delivered message");
    events.run_with(tx, script, changes, now).await?;
    for (row, provider_id, segments) in with_early {
        delivered_before_report(tx, events, row, provider_id, segments, now).await?;
    }
    Ok(())
}

/// A delivered message whose status report arrived first: apply `queued`, then the report.
async fn delivered_before_report(
    tx: &mut Conn<'_>,
    events: &Events,
    row: &Claimed,
    provider_id: &str,
    segments: Option<u32>,
    now: i64,
) -> sqlx::Result<()> {
    let sql = "UPDATE messages SET provider_message_id = $1, segments = COALESCE($2, segments), updated_at = $3 WHERE id = $4";
    tx.execute(sql, &[provider_id.into(), segments.map(i64::from).into(), now.into(), (&row.message_id).into()]).await?;
    apply_status(tx, events, &row.tenant, &row.channel_id, provider_id, DeliveryState::Queued, None, now).await?;
    let sql = "SELECT status, error FROM early_statuses WHERE channel_id = $1 AND provider_message_id = $2";
    let early = tx.fetch_optional(sql, &[(&row.channel_id).into(), provider_id.into()]).await?;
    if let Some(early) = early {
        let state = DeliveryState::parse(&early.get::<String>("status")).unwrap_or(DeliveryState::Queued);
        let error: Option<ProviderError> = early.get::<Option<String>>("error").and_then(|e| serde_json::from_str(&e).ok());
        apply_status(tx, events, &row.tenant, &row.channel_id, provider_id, state, error.as_ref(), now).await?;
        let sql = "DELETE FROM early_statuses WHERE channel_id = $1 AND provider_message_id = $2";
        tx.execute(sql, &[(&row.channel_id).into(), provider_id.into()]).await?;
    }
    Ok(())
}

/// A temporary failure: try again at `next_attempt_at`.
async fn retry_later(tx: &mut Conn<'_>, row: &Claimed, owner: &str, next_attempt_at: i64, error: &ProviderError, now: i64) -> sqlx::Result<()> {
    let sql = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, lease_owner = NULL, lease_until = 0 WHERE message_id = $2 AND lease_owner = $3";
    tx.execute(sql, &[next_attempt_at.into(), (&row.message_id).into(), owner.into()]).await?;
    // Show the last error while the message waits, without changing its state.
    let sql = "UPDATE messages SET error = $1, updated_at = $2 WHERE id = $3";
    tx.execute(sql, &[serde_json::to_string(error).unwrap().into(), now.into(), (&row.message_id).into()]).await?;
    Ok(())
}

/// A permanent failure: the message fails with the provider's reason and leaves the outbox.
async fn failed(tx: &mut Conn<'_>, events: &Events, row: &Claimed, error: &ProviderError, now: i64) -> sqlx::Result<()> {
    let found = tx.fetch_one("SELECT conversation_id, contact_id FROM messages WHERE id = $1", &[(&row.message_id).into()]).await?;
    let conversation: String = found.get("conversation_id");
    let contact: String = found.get("contact_id");
    let sql = "UPDATE messages SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3";
    tx.execute(sql, &[serde_json::to_string(error).unwrap().into(), now.into(), (&row.message_id).into()]).await?;
    apply_provider_error(tx, &row.tenant, &row.channel_id, &conversation, &contact, error, now).await?;
    let data = serde_json::json!({ "conversation_id": conversation, "message_id": row.message_id, "status": "failed", "error": error });
    events.emit(tx, &row.tenant, "message.status", &data, now).await
}

/// What became of one delivery attempt.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// The provider accepted it.
    Delivered {
        /// The provider's id.
        provider_id: String,
        /// SMS segments.
        segments: Option<u32>,
    },
    /// Try again at this time.
    Retry {
        /// Unix ms.
        at: i64,
        /// The last error.
        error: ProviderError,
    },
    /// It failed for good.
    Failed(ProviderError),
}

/// Record the outcomes of a claimed batch in the caller's transaction (the ingest writer's, so
/// one commit serves the whole batch); stream events go to `events`. Rows whose lease this host
/// lost (another host took them when it expired) are left to that host, which records them.
pub async fn record(tx: &mut Conn<'_>, events: &Events, owner: &str, outcomes: &[(Claimed, Recorded)], now: i64) -> sqlx::Result<()> {
    let finished: Vec<&str> =
        outcomes.iter().filter(|(_, o)| !matches!(o, Recorded::Retry { .. })).map(|(row, _)| row.message_id.as_str()).collect();
    let accepted: Vec<(&Claimed, &str, Option<u32>)> = outcomes
        .iter()
        .filter_map(|(row, o)| match o {
            Recorded::Delivered { provider_id, segments } => Some((row, provider_id.as_str(), *segments)),
            _ => None,
        })
        .collect();
    // One round of reads: release the finished rows this host holds, and look up what the
    // accepted messages need.
    let mut reads = Reads::new();
    let released = (!finished.is_empty())
        .then(|| reads.query_in("DELETE FROM outbox WHERE lease_owner = $1 AND message_id IN ({ids}) RETURNING message_id", &[owner.into()], &finished));
    let message_ids: Vec<&str> = accepted.iter().map(|(row, _, _)| row.message_id.as_str()).collect();
    // Early reports are looked up channel by channel, by their key: reports that never find
    // their message (sent by another tool on the same number) stay in the table.
    let mut by_channel: Vec<(&str, Vec<&str>)> = Vec::new();
    for (row, provider_id, _) in &accepted {
        match by_channel.iter_mut().find(|(channel, _)| *channel == row.channel_id) {
            Some((_, ids)) => ids.push(provider_id),
            None => by_channel.push((&row.channel_id, vec![provider_id])),
        }
    }
    let early: Vec<_> = by_channel
        .iter()
        .map(|(channel, ids)| {
            let sql = "SELECT channel_id, provider_message_id FROM early_statuses WHERE channel_id = $1 AND provider_message_id IN ({ids})";
            reads.query_in(sql, &[(*channel).into()], ids)
        })
        .collect();
    let current = (!accepted.is_empty()).then(|| reads.query_in("SELECT id, status, conversation_id FROM messages WHERE id IN ({ids})", &[], &message_ids));
    let rows = reads.fetch(tx).await?;
    let held: HashSet<String> = released.iter().flat_map(|q| rows.of(*q)).map(|r| r.get("message_id")).collect();
    let early: HashSet<(String, String)> = early.iter().flat_map(|q| rows.of(*q)).map(|r| (r.get("channel_id"), r.get("provider_message_id"))).collect();
    let current: HashMap<String, (String, String)> =
        current.iter().flat_map(|q| rows.of(*q)).map(|r| (r.get("id"), (r.get("status"), r.get("conversation_id")))).collect();

    for (row, outcome) in outcomes {
        match outcome {
            Recorded::Failed(error) if held.contains(&row.message_id) => failed(tx, events, row, error, now).await?,
            Recorded::Retry { at, error } => retry_later(tx, row, owner, *at, error, now).await?,
            _ => {}
        }
    }
    let accepted: Vec<_> = accepted.into_iter().filter(|(row, _, _)| held.contains(&row.message_id)).collect();
    delivered(tx, events, &accepted, &current, &early, now).await
}
