//! Conversations, messages, notes and contacts, as the agent API reads and changes them.
//! Every query is scoped by tenant: a row of another tenant is indistinguishable from no row.

use super::ingest::{publish, timeline};
use super::{Db, new_id, now_ms};
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

const CONVERSATION_COLUMNS: &str = "id, channel_id, contact_id, status, priority, tier, thread, assignee_id, team, labels, window_closed, \
    first_inbound_at, first_response_at, last_inbound_at, last_outbound_at, resolved_at, created_at, updated_at";

fn conversation_json(r: &AnyRow) -> Value {
    let labels: Value = serde_json::from_str(&r.get::<String, _>("labels")).unwrap_or_else(|_| json!([]));
    json!({
        "id": r.get::<String, _>("id"),
        "channel_id": r.get::<String, _>("channel_id"),
        "contact_id": r.get::<String, _>("contact_id"),
        "status": r.get::<String, _>("status"),
        "priority": r.get::<String, _>("priority"),
        "tier": r.get::<String, _>("tier"),
        "thread": r.get::<String, _>("thread"),
        "assignee_id": r.get::<Option<String>, _>("assignee_id"),
        "team": r.get::<Option<String>, _>("team"),
        "labels": labels,
        "window_closed": r.get::<i64, _>("window_closed") != 0,
        "first_inbound_at": r.get::<Option<i64>, _>("first_inbound_at"),
        "first_response_at": r.get::<Option<i64>, _>("first_response_at"),
        "last_inbound_at": r.get::<Option<i64>, _>("last_inbound_at"),
        "last_outbound_at": r.get::<Option<i64>, _>("last_outbound_at"),
        "resolved_at": r.get::<Option<i64>, _>("resolved_at"),
        "created_at": r.get::<i64, _>("created_at"),
        "updated_at": r.get::<i64, _>("updated_at"),
    })
}

const MESSAGE_COLUMNS: &str =
    "id, conversation_id, channel_id, direction, provider_message_id, parts, reply_to, author_id, status, error, segments, extra, created_at, updated_at";

/// A message as the API shows it: the one place its fields are named.
#[derive(serde::Serialize)]
struct MessageView {
    id: String,
    conversation_id: String,
    channel_id: String,
    direction: String,
    provider_message_id: Option<String>,
    parts: Value,
    reply_to: Option<String>,
    author_id: Option<String>,
    status: String,
    error: Option<Value>,
    segments: Option<i64>,
    extra: Value,
    created_at: i64,
    updated_at: i64,
}

impl MessageView {
    fn json(self) -> Value {
        serde_json::to_value(self).expect("a message serializes")
    }
}

fn message_json(r: &AnyRow) -> Value {
    MessageView {
        id: r.get("id"),
        conversation_id: r.get("conversation_id"),
        channel_id: r.get("channel_id"),
        direction: r.get("direction"),
        provider_message_id: r.get("provider_message_id"),
        parts: serde_json::from_str(&r.get::<String, _>("parts")).unwrap_or_else(|_| json!([])),
        reply_to: r.get("reply_to"),
        author_id: r.get("author_id"),
        status: r.get("status"),
        error: r.get::<Option<String>, _>("error").and_then(|e| serde_json::from_str(&e).ok()),
        segments: r.get("segments"),
        extra: serde_json::from_str(&r.get::<String, _>("extra")).unwrap_or_else(|_| json!({})),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
    .json()
}

/// An agent's message just queued, as [`message`] would show it, without reading it back.
pub fn queued_json(id: &str, m: &NewOutbound, queued_at: i64) -> Value {
    MessageView {
        id: id.to_string(),
        conversation_id: m.conversation.clone(),
        channel_id: m.context.channel_id.clone(),
        direction: "outbound".into(),
        provider_message_id: None,
        parts: m.parts.clone(),
        reply_to: m.reply_to.clone(),
        author_id: Some(m.author.clone()),
        status: crate::domain::delivery::DeliveryState::Pending.as_str().into(),
        error: None,
        segments: None,
        extra: json!({}),
        created_at: queued_at,
        updated_at: queued_at,
    }
    .json()
}

/// Filters for listing conversations.
#[derive(Debug, Default, Clone)]
pub struct ConversationFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this channel.
    pub channel_id: Option<String>,
    /// Only this assignee; `Some(None)` for unassigned.
    pub assignee_id: Option<Option<String>>,
    /// Only this contact.
    pub contact_id: Option<String>,
    /// Older than this id (the cursor).
    pub before: Option<String>,
    /// At most this many.
    pub limit: i64,
}

/// A page of conversations, newest first, and the cursor for the next page.
pub async fn list(db: &Db, tenant: &str, f: &ConversationFilter) -> sqlx::Result<(Vec<Value>, Option<String>)> {
    let mut sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE tenant_id = $1");
    let mut binds: Vec<String> = vec![tenant.to_string()];
    let mut add = |clause: &str, value: &str, sql: &mut String| {
        binds.push(value.to_string());
        sql.push_str(&format!(" AND {clause} ${}", binds.len()));
    };
    if let Some(s) = &f.status {
        add("status =", s, &mut sql);
    }
    if let Some(c) = &f.channel_id {
        add("channel_id =", c, &mut sql);
    }
    if let Some(c) = &f.contact_id {
        add("contact_id =", c, &mut sql);
    }
    match &f.assignee_id {
        Some(Some(a)) => add("assignee_id =", a, &mut sql),
        Some(None) => sql.push_str(" AND assignee_id IS NULL"),
        None => {}
    }
    if let Some(b) = &f.before {
        add("id <", b, &mut sql);
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", f.limit + 1));
    let mut query = sqlx::query(&sql);
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let mut items: Vec<Value> = rows.iter().map(conversation_json).collect();
    let next = if items.len() as i64 > f.limit {
        items.truncate(f.limit as usize);
        items.last().and_then(|c| c["id"].as_str().map(str::to_string))
    } else {
        None
    };
    Ok((items, next))
}

/// One conversation of a tenant.
pub async fn get(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<Value>> {
    let row = sqlx::query(&format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND tenant_id = $2"))
        .bind(id)
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.as_ref().map(conversation_json))
}

/// A conversation's messages, oldest first.
pub async fn messages(db: &Db, tenant: &str, conversation: &str) -> sqlx::Result<Vec<Value>> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND tenant_id = $2 ORDER BY created_at, id"
    ))
    .bind(conversation)
    .bind(tenant)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(message_json).collect())
}

/// The provider id of the customer's latest message in a conversation.
pub async fn latest_inbound(db: &Db, tenant: &str, conversation: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT provider_message_id FROM messages WHERE conversation_id = $1 AND tenant_id = $2 AND direction = 'inbound'
         AND provider_message_id IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(conversation)
    .bind(tenant)
    .fetch_optional(&db.pool)
    .await
}

/// One message of a tenant.
pub async fn message(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<Value>> {
    let row = sqlx::query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND tenant_id = $2"))
        .bind(id)
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.as_ref().map(message_json))
}

/// A conversation's notes, oldest first.
pub async fn notes(db: &Db, tenant: &str, conversation: Option<&str>, contact: Option<&str>) -> sqlx::Result<Vec<Value>> {
    let (column, value) = match (conversation, contact) {
        (Some(c), _) => ("conversation_id", c),
        (None, Some(c)) => ("contact_id", c),
        (None, None) => return Ok(Vec::new()),
    };
    let rows = sqlx::query(&format!(
        "SELECT id, conversation_id, contact_id, author_id, body, created_at FROM notes WHERE {column} = $1 AND tenant_id = $2 ORDER BY created_at, id"
    ))
    .bind(value)
    .bind(tenant)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({
                "id": r.get::<String, _>("id"), "conversation_id": r.get::<Option<String>, _>("conversation_id"),
                "contact_id": r.get::<Option<String>, _>("contact_id"), "author_id": r.get::<Option<String>, _>("author_id"),
                "body": r.get::<String, _>("body"), "created_at": r.get::<i64, _>("created_at"),
            })
        })
        .collect())
}

/// A change an agent makes to a conversation.
#[derive(Debug, Clone)]
pub enum Change {
    /// Assign (or unassign) and optionally set the team.
    Assign {
        /// The agent, or none to unassign.
        assignee: Option<String>,
        /// The team, when given.
        team: Option<String>,
    },
    /// Change the status.
    Status(String),
    /// Change the priority.
    Priority(String),
    /// Replace the labels.
    Labels(Vec<String>),
}

/// Apply a change; returns the updated conversation, or none when it does not exist for the tenant.
pub async fn change(db: &Db, tenant: &str, id: &str, actor: &str, change: Change) -> sqlx::Result<Option<Value>> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    let contact: Option<String> = sqlx::query_scalar("SELECT contact_id FROM conversations WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(contact) = contact else { return Ok(None) };
    let (kind, data) = match &change {
        Change::Assign { assignee, team } => {
            sqlx::query("UPDATE conversations SET assignee_id = $1, team = COALESCE($2, team), updated_at = $3 WHERE id = $4")
                .bind(assignee)
                .bind(team)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            ("conversation.assigned", json!({ "assignee_id": assignee, "team": team }))
        }
        Change::Status(status) => {
            sqlx::query(
                "UPDATE conversations SET status = $1, resolved_at = CASE WHEN $2 = 'resolved' THEN $3 ELSE NULL END, updated_at = $4 WHERE id = $5",
            )
            .bind(status)
            .bind(status)
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            ("conversation.status", json!({ "status": status }))
        }
        Change::Priority(priority) => {
            sqlx::query("UPDATE conversations SET priority = $1, updated_at = $2 WHERE id = $3")
                .bind(priority)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            ("conversation.priority", json!({ "priority": priority }))
        }
        Change::Labels(labels) => {
            sqlx::query("UPDATE conversations SET labels = $1, updated_at = $2 WHERE id = $3")
                .bind(serde_json::to_string(labels).unwrap())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            ("conversation.labels", json!({ "labels": labels }))
        }
    };
    let mut data = data;
    data["conversation_id"] = json!(id);
    data["actor_id"] = json!(actor);
    timeline(&mut super::sql::Conn::Pooled(&mut tx), tenant, &contact, Some(id), kind, &data, now).await?;
    publish(&mut super::sql::Conn::Pooled(&mut tx), tenant, kind, &data, now).await?;
    tx.commit().await?;
    get(db, tenant, id).await
}

/// Add an internal note to a conversation or a contact.
pub async fn add_note(db: &Db, tenant: &str, conversation: Option<&str>, contact: &str, author: &str, body: &str) -> sqlx::Result<Value> {
    let now = now_ms();
    let id = new_id();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO notes (id, tenant_id, conversation_id, contact_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(tenant)
        .bind(conversation)
        .bind(contact)
        .bind(author)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let note = json!({ "id": id, "conversation_id": conversation, "contact_id": contact, "author_id": author, "body": body, "created_at": now });
    timeline(&mut super::sql::Conn::Pooled(&mut tx), tenant, contact, conversation, "note", &note, now).await?;
    publish(&mut super::sql::Conn::Pooled(&mut tx), tenant, "note.created", &note, now).await?;
    tx.commit().await?;
    Ok(note)
}

/// The facts the send policy needs about a conversation.
#[derive(Debug, Clone)]
pub struct SendContext {
    /// The channel.
    pub channel_id: String,
    /// The contact.
    pub contact_id: String,
    /// The recipient's provider id on the channel.
    pub recipient: Option<String>,
    /// Last inbound, Unix ms.
    pub last_inbound_ms: Option<i64>,
    /// Provider said the window is closed.
    pub window_closed: bool,
    /// Opted out on this channel.
    pub opted_out: bool,
}

/// What sending into conversations needs, for the ids that stand in for `{ids}`; each row also
/// has the conversation's `id` and `tenant_id` (see [`send_context_of`]).
pub(crate) const SEND_CONTEXTS_SQL: &str = "SELECT c.id, c.tenant_id, c.channel_id, c.contact_id, c.last_inbound_at, c.window_closed,
        (SELECT i.provider_id FROM contact_identities i WHERE i.contact_id = c.contact_id AND i.channel_id = c.channel_id
         ORDER BY i.created_at LIMIT 1) AS recipient,
        (SELECT s.status FROM consents s WHERE s.contact_id = c.contact_id AND s.channel_id = c.channel_id AND s.purpose = 'all') AS consent
 FROM conversations c WHERE c.id IN ({ids})";

/// A row of [`SEND_CONTEXTS_SQL`]: (conversation, tenant, context).
pub(crate) fn send_context_of(row: &super::sql::Row) -> (String, String, SendContext) {
    let consent: Option<String> = row.get("consent");
    let context = SendContext {
        channel_id: row.get("channel_id"),
        contact_id: row.get("contact_id"),
        recipient: row.get("recipient"),
        last_inbound_ms: row.get("last_inbound_at"),
        window_closed: row.get::<i64>("window_closed") != 0,
        opted_out: consent.as_deref() == Some("opt_out"),
    };
    (row.get("id"), row.get("tenant_id"), context)
}

/// Load what sending into a conversation needs; none when it is not the tenant's.
pub async fn send_context(db: &Db, tenant: &str, conversation: &str) -> sqlx::Result<Option<SendContext>> {
    let sql = SEND_CONTEXTS_SQL.replace("{ids}", "$1");
    let row = sqlx::query(&sql).bind(conversation).fetch_optional(&db.pool).await?;
    Ok(row.map(|r| send_context_of(&super::sql::Row::Pooled(r))).filter(|(_, owner, _)| owner == tenant).map(|(_, _, context)| context))
}

/// An agent's message, ready to be queued.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    /// The tenant.
    pub tenant: String,
    /// The conversation.
    pub conversation: String,
    /// What [`send_context`] found.
    pub context: SendContext,
    /// The author.
    pub author: String,
    /// Parts, as stored and shown.
    pub parts: Value,
    /// Our id of the message replied to.
    pub reply_to: Option<String>,
    /// What the dispatcher hands the connector.
    pub payload: Value,
}

/// The message an earlier send with this `Idempotency-Key` queued, if any.
pub async fn idempotent_message(tx: &mut super::sql::Conn<'_>, tenant: &str, key: &str) -> sqlx::Result<Option<String>> {
    let row = tx.fetch_optional("SELECT message_id FROM idempotency_keys WHERE tenant_id = $1 AND key = $2", &[tenant.into(), key.into()]).await?;
    Ok(row.map(|r| r.get("message_id")))
}

/// Record a message the provider already accepted (a private reply): no outbox row.
#[allow(clippy::too_many_arguments)]
pub async fn record_sent(
    db: &Db,
    tenant: &str,
    conversation: &str,
    context: &SendContext,
    author: &str,
    parts: Value,
    provider_id: Option<&str>,
    extra: Value,
) -> sqlx::Result<String> {
    let now = now_ms();
    let id = new_id();
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO messages (id, tenant_id, conversation_id, channel_id, contact_id, direction, provider_message_id, parts, author_id, status, extra, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'outbound', $6, $7, $8, 'sent', $9, $10, $10)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(conversation)
    .bind(&context.channel_id)
    .bind(&context.contact_id)
    .bind(provider_id)
    .bind(parts.to_string())
    .bind(author)
    .bind(extra.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE conversations SET last_outbound_at = $1, first_response_at = COALESCE(first_response_at, $1), updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
    let data = json!({ "conversation_id": conversation, "message_id": id, "contact_id": context.contact_id, "direction": "outbound", "parts": parts });
    timeline(&mut super::sql::Conn::Pooled(&mut tx), tenant, &context.contact_id, Some(conversation), "message", &data, now).await?;
    publish(&mut super::sql::Conn::Pooled(&mut tx), tenant, "message.created", &data, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Add an item to a contact's timeline (and the tenant's event stream).
pub async fn record_timeline(db: &Db, tenant: &str, contact: &str, conversation: Option<&str>, kind: &str, data: &Value) -> sqlx::Result<()> {
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    timeline(&mut super::sql::Conn::Pooled(&mut tx), tenant, contact, conversation, kind, data, now).await?;
    publish(&mut super::sql::Conn::Pooled(&mut tx), tenant, kind, data, now).await?;
    tx.commit().await
}

/// A contact with its identities, attributes and cross-channel timeline.
pub async fn contact(db: &Db, tenant: &str, id: &str) -> sqlx::Result<Option<Value>> {
    let Some(row) = sqlx::query("SELECT id, name, phone, email, attributes, merged_into, created_at FROM contacts WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let identities = sqlx::query("SELECT channel_id, provider_id, display_name FROM contact_identities WHERE contact_id = $1 ORDER BY created_at")
        .bind(id)
        .fetch_all(&db.pool)
        .await?;
    let timeline = sqlx::query("SELECT seq, conversation_id, kind, data, created_at FROM timeline WHERE contact_id = $1 AND tenant_id = $2 ORDER BY seq")
        .bind(id)
        .bind(tenant)
        .fetch_all(&db.pool)
        .await?;
    let attributes: Value = serde_json::from_str(&row.get::<String, _>("attributes")).unwrap_or_else(|_| json!({}));
    Ok(Some(json!({
        "id": row.get::<String, _>("id"),
        "name": row.get::<Option<String>, _>("name"),
        "phone": row.get::<Option<String>, _>("phone"),
        "email": row.get::<Option<String>, _>("email"),
        "attributes": attributes,
        "merged_into": row.get::<Option<String>, _>("merged_into"),
        "created_at": row.get::<i64, _>("created_at"),
        "identities": identities.iter().map(|r| json!({
            "channel_id": r.get::<String, _>("channel_id"), "provider_id": r.get::<String, _>("provider_id"),
            "display_name": r.get::<Option<String>, _>("display_name"),
        })).collect::<Vec<_>>(),
        "timeline": timeline.iter().map(|r| json!({
            "seq": r.get::<i64, _>("seq"), "conversation_id": r.get::<Option<String>, _>("conversation_id"),
            "kind": r.get::<String, _>("kind"),
            "data": serde_json::from_str::<Value>(&r.get::<String, _>("data")).unwrap_or_default(),
            "created_at": r.get::<i64, _>("created_at"),
        })).collect::<Vec<_>>(),
    })))
}

/// Contacts whose name, phone or email contains `q` (case-insensitive), newest first.
pub async fn search_contacts(db: &Db, tenant: &str, q: &str, limit: i64) -> sqlx::Result<Vec<Value>> {
    let pattern = format!("%{}%", q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let rows = sqlx::query(&format!(
        "SELECT id, name, phone, email FROM contacts WHERE tenant_id = $1 AND merged_into IS NULL AND
         (LOWER(COALESCE(name, '')) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(phone, '')) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(email, '')) LIKE $2 ESCAPE '\\')
         ORDER BY id DESC LIMIT {limit}"
    ))
    .bind(tenant)
    .bind(&pattern)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            json!({ "id": r.get::<String, _>("id"), "name": r.get::<Option<String>, _>("name"),
                    "phone": r.get::<Option<String>, _>("phone"), "email": r.get::<Option<String>, _>("email") })
        })
        .collect())
}

/// Merge attributes into a contact (a null value removes the key). Returns false if no contact.
pub async fn set_attributes(db: &Db, tenant: &str, id: &str, changes: &serde_json::Map<String, Value>) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let current: Option<String> = sqlx::query_scalar("SELECT attributes FROM contacts WHERE id = $1 AND tenant_id = $2")
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(current) = current else { return Ok(false) };
    let mut attributes: serde_json::Map<String, Value> = serde_json::from_str(&current).unwrap_or_default();
    for (k, v) in changes {
        if v.is_null() {
            attributes.remove(k);
        } else {
            attributes.insert(k.clone(), v.clone());
        }
    }
    sqlx::query("UPDATE contacts SET attributes = $1, updated_at = $2 WHERE id = $3")
        .bind(Value::Object(attributes).to_string())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Merge contact `from` into `into`: identities, conversations, notes and timeline move; `from`
/// is kept as a pointer. The surviving contact is always `into`, so merges are deterministic.
pub async fn merge_contacts(db: &Db, tenant: &str, into: &str, from: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE tenant_id = $1 AND id IN ($2, $3) AND merged_into IS NULL")
        .bind(tenant)
        .bind(into)
        .bind(from)
        .fetch_one(&mut *tx)
        .await?;
    if found != 2 || into == from {
        return Ok(false);
    }
    for table in ["contact_identities", "conversations", "messages", "notes", "timeline"] {
        sqlx::query(&format!("UPDATE {table} SET contact_id = $1 WHERE contact_id = $2 AND tenant_id = $3"))
            .bind(into)
            .bind(from)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
    }
    // Fill the survivor's empty fields from the merged contact, then retire it.
    sqlx::query(
        "UPDATE contacts SET name = COALESCE(name, (SELECT name FROM contacts WHERE id = $1)),
             phone = COALESCE(phone, (SELECT phone FROM contacts WHERE id = $1)),
             email = COALESCE(email, (SELECT email FROM contacts WHERE id = $1)), updated_at = $2 WHERE id = $3",
    )
    .bind(from)
    .bind(now_ms())
    .bind(into)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE contacts SET merged_into = $1, updated_at = $2 WHERE id = $3")
        .bind(into)
        .bind(now_ms())
        .bind(from)
        .execute(&mut *tx)
        .await?;
    publish(&mut super::sql::Conn::Pooled(&mut tx), tenant, "contact.merged", &json!({ "into": into, "from": from }), now_ms()).await?;
    tx.commit().await?;
    Ok(true)
}
