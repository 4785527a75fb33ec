//! Writing a webhook's events: one transaction per batch, idempotent on (channel, provider id).
//!
//! Messages, contacts and threading go through [`batch::Batch`], which writes a whole group
//! commit with set-based statements; the rarer events (statuses, consent, reactions, calls) are
//! applied one by one here.

pub mod batch;

use crate::domain::content::{ConsentAction, Identity, InboundEvent, ProviderError, ReportedMessage, ReportedStatus};
use crate::domain::delivery::DeliveryState;
use batch::{Added, Batch, Sighting};
use crate::store::sql::Conn;

/// Where a batch of events is written.
pub struct IngestTarget<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The channel.
    pub channel: &'a str,
    /// Now, Unix ms.
    pub now_ms: i64,
    /// How long after resolution an inbound message reopens a conversation.
    pub reopen_window_ms: i64,
    /// Where stream events go.
    pub events: &'a Events,
    /// The routing tier of the channel's direct conversations (`immediate` or `reactive`);
    /// comment threads are always `proactive`.
    pub tier: &'a str,
}

/// What a batch did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// Messages stored.
    pub messages: usize,
    /// Messages already stored (provider retries).
    pub duplicates: usize,
    /// Statuses applied to a message.
    pub statuses: usize,
    /// Statuses kept for a message not yet known.
    pub early_statuses: usize,
    /// Other events recorded.
    pub other: usize,
}

/// Where a transaction's stream events go.
pub enum Events {
    /// Inserted at once, or with the script that makes them.
    Now,
    /// Collected as rows of `events`, and inserted in one statement by the ingest writer just
    /// before it commits.
    Deferred(std::sync::Mutex<super::bulk::Rows>),
}

impl Events {
    /// A collector for a batch.
    pub fn deferred() -> Events {
        Events::Deferred(std::sync::Mutex::new(event_rows()))
    }

    /// Record one event.
    pub async fn emit(&self, tx: &mut Conn<'_>, tenant: &str, kind: &str, data: &serde_json::Value, now: i64) -> sqlx::Result<()> {
        self.emit_all(tx, vec![(tenant.to_string(), kind.to_string(), data.to_string())], now).await
    }

    /// Record events given as (tenant, kind, JSON data).
    pub async fn emit_all(&self, tx: &mut Conn<'_>, events: Vec<(String, String, String)>, now: i64) -> sqlx::Result<()> {
        match self {
            Events::Now => {
                let mut rows = event_rows();
                push_events(&mut rows, events, now);
                rows.insert(tx).await.map(|_| ())
            }
            Events::Deferred(buffer) => {
                push_events(&mut buffer.lock().unwrap(), events, now);
                Ok(())
            }
        }
    }

    /// Run `script` and record `events` (tenant, kind, JSON data): inserted by the script itself
    /// unless they are deferred.
    pub async fn run_with(&self, tx: &mut Conn<'_>, mut script: super::bulk::Script, events: Vec<(String, String, String)>, now: i64) -> sqlx::Result<()> {
        match self {
            Events::Now => {
                let mut rows = event_rows();
                push_events(&mut rows, events, now);
                script.insert(&rows, "a stream event");
                script.run(tx).await
            }
            Events::Deferred(_) => {
                script.run(tx).await?;
                self.emit_all(tx, events, now).await
            }
        }
    }

    /// Insert what was collected.
    pub async fn flush(&self, tx: &mut Conn<'_>) -> sqlx::Result<()> {
        let Events::Deferred(buffer) = self else { return Ok(()) };
        let pending = std::mem::replace(&mut *buffer.lock().unwrap(), event_rows());
        pending.insert(tx).await.map(|_| ())
    }
}

/// No rows of `events` yet.
fn event_rows() -> super::bulk::Rows {
    super::bulk::Rows::new("events", &["tenant_id", "kind", "data", "created_at"], "")
}

/// Add stream events (tenant, kind, JSON data) to rows of `events`.
fn push_events(rows: &mut super::bulk::Rows, events: Vec<(String, String, String)>, now: i64) {
    for (tenant, kind, data) in events {
        rows.push([tenant.into(), kind.into(), data.into(), now.into()]);
    }
}

/// Record one stream event for the tenant's agents.
pub async fn publish(tx: &mut Conn<'_>, tenant: &str, kind: &str, data: &serde_json::Value, now: i64) -> sqlx::Result<()> {
    Events::Now.emit(tx, tenant, kind, data, now).await
}

/// Add an item to a contact's cross-channel timeline.
pub async fn timeline(
    tx: &mut Conn<'_>,
    tenant: &str,
    contact: &str,
    conversation: Option<&str>,
    kind: &str,
    data: &serde_json::Value,
    now: i64,
) -> sqlx::Result<()> {
    let sql = "INSERT INTO timeline (tenant_id, contact_id, conversation_id, kind, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    tx.execute(sql, &[tenant.into(), contact.into(), conversation.into(), kind.into(), data.to_string().into(), now.into()]).await?;
    Ok(())
}

/// The contact behind an identity on a channel, created if new (see [`Batch::contact_for`]).
pub async fn resolve_contact(tx: &mut Conn<'_>, t: &IngestTarget<'_>, who: &Identity) -> sqlx::Result<String> {
    let mut batch = Batch::new(t.now_ms);
    batch.prefetch(tx, None, &[Sighting::contact(t, who)], &[]).await?;
    let contact = batch.contact_for(t, who);
    batch.flush(tx, t.events).await?;
    Ok(contact)
}

/// Store one message on its own (a voicemail, a comment); webhooks full of messages are
/// written a whole batch at a time by the ingest writer.
async fn store_message(tx: &mut Conn<'_>, t: &IngestTarget<'_>, m: &ReportedMessage, report: &mut IngestReport) -> sqlx::Result<()> {
    let mut batch = Batch::new(t.now_ms);
    batch.prefetch(tx, None, &[Sighting::message(t, m)], &[]).await?;
    match batch.add_message(t, m) {
        Added::New => report.messages += 1,
        Added::Duplicate => report.duplicates += 1,
    }
    batch.flush(tx, t.events).await
}

/// Apply a delivery report to the message with this provider id, or keep it until the message
/// is known. Returns true when a stored message changed.
#[allow(clippy::too_many_arguments)]
pub async fn apply_status(
    tx: &mut Conn<'_>,
    events: &Events,
    tenant: &str,
    channel: &str,
    provider_id: &str,
    reported: DeliveryState,
    error: Option<&ProviderError>,
    now: i64,
) -> sqlx::Result<Option<bool>> {
    let sql = "SELECT id, status, conversation_id, contact_id FROM messages WHERE channel_id = $1 AND provider_message_id = $2";
    let row = tx.fetch_optional(sql, &[channel.into(), provider_id.into()]).await?;
    let Some(row) = row else {
        // The report came before the message (or before the send's receipt): keep the furthest.
        let sql = "SELECT status FROM early_statuses WHERE channel_id = $1 AND provider_message_id = $2";
        let early: Option<String> = tx.fetch_optional(sql, &[channel.into(), provider_id.into()]).await?.map(|row| row.get("status"));
        let current = early.as_deref().and_then(DeliveryState::parse).unwrap_or(DeliveryState::Pending);
        if let Some(next) = current.advance(reported) {
            let sql = "INSERT INTO early_statuses (channel_id, provider_message_id, tenant_id, status, error, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (channel_id, provider_message_id) DO UPDATE SET status = excluded.status, error = excluded.error";
            let error = error.map(|e| serde_json::to_string(e).unwrap());
            tx.execute(sql, &[channel.into(), provider_id.into(), tenant.into(), next.as_str().into(), error.into(), now.into()]).await?;
        }
        return Ok(None);
    };
    let id: String = row.get("id");
    let conversation: String = row.get("conversation_id");
    let contact: String = row.get("contact_id");
    let current = DeliveryState::parse(&row.get::<String>("status")).unwrap_or(DeliveryState::Pending);
    let Some(next) = current.advance(reported) else { return Ok(Some(false)) };
    let sql = "UPDATE messages SET status = $1, error = COALESCE($2, error), updated_at = $3 WHERE id = $4";
    let stored_error = error.map(|e| serde_json::to_string(e).unwrap());
    tx.execute(sql, &[next.as_str().into(), stored_error.into(), now.into(), (&id).into()]).await?;
    if let Some(e) = error {
        apply_provider_error(tx, tenant, channel, &conversation, &contact, e, now).await?;
    }
    events.emit(
        tx,
        tenant,
        "message.status",
        &serde_json::json!({ "conversation_id": conversation, "message_id": id, "status": next.as_str(), "error": error }),
        now,
    )
    .await?;
    Ok(Some(true))
}

/// What a provider's error on a message means beyond the message: a closed reply window closes
/// the conversation's window, and an opted-out recipient is recorded as opted out.
pub async fn apply_provider_error(
    tx: &mut Conn<'_>,
    tenant: &str,
    channel: &str,
    conversation: &str,
    contact: &str,
    error: &ProviderError,
    now: i64,
) -> sqlx::Result<()> {
    if error.category == "window_closed" {
        tx.execute("UPDATE conversations SET window_closed = 1, updated_at = $1 WHERE id = $2", &[now.into(), conversation.into()]).await?;
    }
    if error.category == "opted_out" {
        record_consent(tx, tenant, channel, contact, "opt_out", Some(&format!("provider error {}", error.code)), now).await?;
    }
    Ok(())
}

/// Record a consent change for a contact on a channel.
pub async fn record_consent(
    tx: &mut Conn<'_>,
    tenant: &str,
    channel: &str,
    contact: &str,
    status: &str,
    keyword: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    let sql = "INSERT INTO consents (contact_id, channel_id, purpose, tenant_id, status, keyword, updated_at) VALUES ($1, $2, 'all', $3, $4, $5, $6)
               ON CONFLICT (contact_id, channel_id, purpose) DO UPDATE SET status = excluded.status, keyword = excluded.keyword, updated_at = excluded.updated_at";
    tx.execute(sql, &[contact.into(), channel.into(), tenant.into(), status.into(), keyword.into(), now.into()]).await?;
    timeline(tx, tenant, contact, None, "consent", &serde_json::json!({ "channel_id": channel, "status": status, "keyword": keyword }), now).await
}

/// Write a batch of events from one webhook.
pub async fn apply(tx: &mut Conn<'_>, t: &IngestTarget<'_>, events: &[InboundEvent]) -> sqlx::Result<IngestReport> {
    let mut report = IngestReport::default();
    for event in events {
        match event {
            InboundEvent::Message(m) => store_message(tx, t, m, &mut report).await?,
            InboundEvent::Status(ReportedStatus { provider_message_id, state, error, .. }) => {
                match apply_status(tx, t.events, t.tenant, t.channel, provider_message_id, *state, error.as_ref(), t.now_ms).await? {
                    None => report.early_statuses += 1,
                    Some(_) => report.statuses += 1,
                }
            }
            InboundEvent::Comment { provider_comment_id, contact, part, timestamp_ms } => {
                let message = ReportedMessage {
                    provider_message_id: provider_comment_id.clone(),
                    outbound: false,
                    contact: contact.clone(),
                    timestamp_ms: *timestamp_ms,
                    parts: vec![part.clone()],
                    reply_to: None,
                    segments: None,
                    extra: serde_json::json!({ "comment": true }),
                };
                store_message(tx, t, &message, &mut report).await?;
            }
            InboundEvent::Deleted { provider_message_id, .. } => {
                apply_status(tx, t.events, t.tenant, t.channel, provider_message_id, DeliveryState::Deleted, None, t.now_ms).await?;
                report.other += 1;
            }
            InboundEvent::Consent { contact, action, keyword } => {
                let contact_id = resolve_contact(tx, t, contact).await?;
                let status = match action {
                    ConsentAction::OptOut => "opt_out",
                    ConsentAction::OptIn => "opt_in",
                    ConsentAction::Help => "help",
                };
                if *action != ConsentAction::Help {
                    record_consent(tx, t.tenant, t.channel, &contact_id, status, Some(keyword), t.now_ms).await?;
                }
                report.other += 1;
            }
            InboundEvent::Reaction { contact, target_message_id, emoji, outbound } => {
                let contact_id = resolve_contact(tx, t, contact).await?;
                let data = serde_json::json!({
                    "channel_id": t.channel, "target_provider_message_id": target_message_id, "emoji": emoji, "outbound": outbound,
                });
                timeline(tx, t.tenant, &contact_id, None, "reaction", &data, t.now_ms).await?;
                t.events.emit(tx, t.tenant, "message.reaction", &data, t.now_ms).await?;
                report.other += 1;
            }
            InboundEvent::Typing { .. } => {
                // Typing is ephemeral: it is not stored.
            }
            InboundEvent::Call { call_id, contact, update, reference } => {
                store_call_event(tx, t, call_id, contact, update, reference.as_deref(), &mut report).await?;
            }
        }
    }
    Ok(report)
}

/// Remember that an event with this key was stored; false when it already was (a redelivery).
pub async fn claim_event_key(tx: &mut Conn<'_>, channel: &str, key: &str, now: i64) -> sqlx::Result<bool> {
    let sql = "INSERT INTO event_keys (channel_id, key, created_at) VALUES ($1, $2, $3) ON CONFLICT (channel_id, key) DO NOTHING";
    Ok(tx.execute(sql, &[channel.into(), key.into(), now.into()]).await? > 0)
}

/// Call statuses after which the call is over.
const CALL_OVER: &[&str] = &["completed", "busy", "no-answer", "failed", "canceled"];

async fn store_call_event(
    tx: &mut Conn<'_>,
    t: &IngestTarget<'_>,
    call_id: &str,
    contact: &Identity,
    update: &serde_json::Value,
    reference: Option<&str>,
    report: &mut IngestReport,
) -> sqlx::Result<()> {
    use sha2::Digest;
    let key = format!("call:{call_id}:{}", &hex::encode(sha2::Sha256::digest(update.to_string().as_bytes()))[..24]);
    if !claim_event_key(tx, t.channel, &key, t.now_ms).await? {
        report.duplicates += 1;
        return Ok(());
    }
    let mut batch = Batch::new(t.now_ms);
    batch.prefetch(tx, None, &[Sighting::contact(t, contact)], &[]).await?;
    let contact_id = batch.contact_for(t, contact);
    // A call placed from a conversation joins it; any other call is the caller's voice conversation.
    let referenced: Option<String> = match reference {
        Some(r) => tx.fetch_optional("SELECT id FROM conversations WHERE id = $1 AND tenant_id = $2", &[r.into(), t.tenant.into()]).await?.map(|row| row.get("id")),
        None => None,
    };
    let conversation = match referenced {
        Some(id) => id,
        None => batch.thread(t, &contact_id, "direct"),
    };
    batch.flush(tx, t.events).await?;
    let data = serde_json::json!({ "channel_id": t.channel, "call_id": call_id, "update": update, "reference": reference, "conversation_id": conversation });
    timeline(tx, t.tenant, &contact_id, Some(&conversation), "call", &data, t.now_ms).await?;
    t.events.emit(tx, t.tenant, "call.updated", &data, t.now_ms).await?;
    tx.execute("UPDATE conversations SET updated_at = $1 WHERE id = $2", &[t.now_ms.into(), (&conversation).into()]).await?;
    if let Some(status) = update.get("status").and_then(|s| s.as_str())
        && CALL_OVER.contains(&status)
    {
        super::calls::end(tx, call_id, t.now_ms).await?;
    }
    // A voicemail's transcript is a message from the caller, with the recording attached.
    if update.get("voicemail").and_then(|v| v.as_bool()) == Some(true) {
        let mut parts = vec![crate::domain::content::Part::Text { text: update.get("transcript").and_then(|v| v.as_str()).unwrap_or("").to_string() }];
        if let Some(recording) = update.get("recording").filter(|r| !r.is_null())
            && let Ok(media) = serde_json::from_value::<crate::domain::content::Media>(recording.clone())
        {
            parts.push(crate::domain::content::Part::Media { media });
        }
        let message = ReportedMessage {
            provider_message_id: format!("voicemail-{call_id}"),
            outbound: false,
            contact: contact.clone(),
            timestamp_ms: None,
            parts,
            reply_to: None,
            segments: None,
            extra: serde_json::json!({ "voicemail": true, "call_id": call_id }),
        };
        store_message(tx, t, &message, report).await?;
    }
    report.other += 1;
    Ok(())
}
