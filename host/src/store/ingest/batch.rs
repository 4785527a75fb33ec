//! The messages of a whole group commit, written with set-based statements.
//!
//! [`Batch::prefetch`] reads, in a few queries per channel, what the store knows about a batch's
//! messages: which are stored already, which contact each sender's identity belongs to, which
//! contacts new senders' phone numbers match, and each contact's latest conversation.
//! [`Batch::add_message`] and [`Batch::add_outbound`] then decide in memory, with the domain's
//! threading rules, what each message creates or joins, and [`Batch::flush`] writes it all,
//! table by table, with multi-row inserts. A batch of a hundred messages costs about a dozen
//! statements instead of about a thousand.

use super::{Events, IngestTarget};
use crate::domain::content::{Identity, Part, ReportedMessage};
use crate::domain::conversation::{ConversationStatus, LatestConversation, Threading, thread_inbound};
use crate::domain::delivery::DeliveryState;
use crate::store::bulk::{Reads, Rows, Script, Value};
use crate::store::conversations::{NewOutbound, SEND_CONTEXTS_SQL, SendContext, send_context_of};
use crate::store::new_id;
use crate::store::sql::Conn;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What became of a message added to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// It will be stored.
    New,
    /// It is stored already (a provider's retry), or came twice in the batch.
    Duplicate,
}

/// A customer seen on a channel, with the message that showed them, for [`Batch::prefetch`].
pub struct Sighting<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The channel.
    pub channel: &'a str,
    /// Who.
    pub who: &'a Identity,
    /// The provider's id of their message, if a message is to be stored.
    pub message_id: Option<&'a str>,
}

impl<'a> Sighting<'a> {
    /// A message to store.
    pub fn message(t: &'a IngestTarget<'_>, m: &'a ReportedMessage) -> Sighting<'a> {
        Sighting { tenant: t.tenant, channel: t.channel, who: &m.contact, message_id: Some(&m.provider_message_id) }
    }

    /// A customer who did something other than send a message.
    pub fn contact(t: &'a IngestTarget<'_>, who: &'a Identity) -> Sighting<'a> {
        Sighting { tenant: t.tenant, channel: t.channel, who, message_id: None }
    }
}

/// The contact an identity or a phone number leads to.
#[derive(Debug, Clone)]
struct KnownContact {
    id: String,
    /// Whether the contact has a name (a nameless one learns the first name a channel tells).
    named: bool,
}

/// The latest conversation of (contact, channel, thread).
type ThreadKey = (String, String, String);

/// Rows and updates of one group commit, with what the store already holds.
pub struct Batch {
    now: i64,
    /// (channel, provider message id) of every stored message the batch touches.
    stored: HashSet<(String, String)>,
    /// (channel, provider id) → contact.
    identities: HashMap<(String, String), KnownContact>,
    /// (tenant, phone) → the tenant's first contact with that phone.
    phones: HashMap<(String, String), KnownContact>,
    /// (contact, channel, thread) → latest conversation.
    latest: HashMap<ThreadKey, LatestConversation>,
    /// Conversation → (tenant, send context), for agents' sends.
    send_contexts: HashMap<String, (String, SendContext)>,
    contacts: Rows,
    names: Vec<(String, String)>,
    identity_rows: Rows,
    conversations: Rows,
    /// The conversations this batch opens, by id: their rows in `conversations`.
    opened: HashMap<String, usize>,
    woken: Vec<String>,
    reopened: Vec<String>,
    messages: Rows,
    outbound: Rows,
    media_jobs: Rows,
    outbox: Rows,
    idempotency: Rows,
    touched_inbound: BTreeSet<String>,
    touched_outbound: BTreeSet<String>,
    timeline: Rows,
    events: Vec<(String, String, String)>,
}

impl Batch {
    /// An empty batch written at `now` (Unix ms).
    pub fn new(now: i64) -> Batch {
        Batch {
            now,
            stored: HashSet::new(),
            identities: HashMap::new(),
            phones: HashMap::new(),
            latest: HashMap::new(),
            send_contexts: HashMap::new(),
            contacts: Rows::new("contacts", &["id", "tenant_id", "name", "phone", "created_at", "updated_at"], ""),
            names: Vec::new(),
            identity_rows: Rows::new(
                "contact_identities",
                &["channel_id", "provider_id", "tenant_id", "contact_id", "display_name", "created_at"],
                " ON CONFLICT (channel_id, provider_id) DO NOTHING",
            ),
            conversations: Rows::new(
                "conversations",
                &[
                    "id", "tenant_id", "channel_id", "contact_id", "status", "tier", "thread", "created_at", "updated_at", "first_inbound_at",
                    "last_inbound_at", "first_response_at", "last_outbound_at",
                ],
                "",
            ),
            opened: HashMap::new(),
            woken: Vec::new(),
            reopened: Vec::new(),
            messages: Rows::new(
                "messages",
                &[
                    "id", "tenant_id", "conversation_id", "channel_id", "contact_id", "direction", "provider_message_id", "parts", "reply_to",
                    "status", "segments", "extra", "provider_timestamp", "created_at", "updated_at",
                ],
                " ON CONFLICT (channel_id, provider_message_id) DO NOTHING",
            ),
            outbound: Rows::new(
                "messages",
                &[
                    "id", "tenant_id", "conversation_id", "channel_id", "contact_id", "direction", "parts", "reply_to", "author_id", "status",
                    "created_at", "updated_at",
                ],
                "",
            ),
            media_jobs: Rows::new("media_jobs", &["message_id", "part_index", "tenant_id", "channel_id", "media", "next_attempt_at"], ""),
            outbox: Rows::new(
                "outbox",
                &["message_id", "tenant_id", "channel_id", "payload", "attempts", "next_attempt_at", "lease_owner", "lease_until", "created_at"],
                "",
            ),
            idempotency: Rows::new("idempotency_keys", &["tenant_id", "key", "message_id", "created_at"], ""),
            touched_inbound: BTreeSet::new(),
            touched_outbound: BTreeSet::new(),
            timeline: Rows::new("timeline", &["tenant_id", "contact_id", "conversation_id", "kind", "data", "created_at"], ""),
            events: Vec::new(),
        }
    }

    /// Read what the store knows about these sightings of customers (and their messages), and
    /// what agents' sends into the conversations `sends` need: one round of [`Reads`] for the
    /// whole batch.
    pub async fn prefetch(&mut self, tx: &mut Conn<'_>, opening: Option<&'static str>, sightings: &[Sighting<'_>], sends: &[&str]) -> sqlx::Result<()> {
        let mut by_channel: Vec<(&str, &str, Vec<&Sighting<'_>>)> = Vec::new();
        for s in sightings {
            match by_channel.iter_mut().find(|(channel, _, _)| *channel == s.channel) {
                Some((_, _, group)) => group.push(s),
                None => by_channel.push((s.channel, s.tenant, vec![s])),
            }
        }
        let lookups = Lookups::of(tx.backend_name());
        let mut reads = Reads::new();
        if let Some(statement) = opening {
            reads.open_with(statement);
        }
        let mut asked = Vec::new();
        for (channel, tenant, group) in &by_channel {
            let ids: Vec<&str> = distinct(group.iter().filter_map(|s| s.message_id));
            let senders: Vec<&str> = distinct(group.iter().map(|s| s.who.provider_id.as_str()));
            let phones: Vec<&str> = distinct(group.iter().filter_map(|s| s.who.phone.as_deref()));
            let stored = (!ids.is_empty()).then(|| reads.query_in(lookups.stored, &[(*channel).into()], &ids));
            let identities = reads.query_in(lookups.identities, &[(*channel).into()], &senders);
            let by_phone = (!phones.is_empty()).then(|| reads.query_in(lookups.phones, &[(*tenant).into()], &phones));
            // Lists padded to a power of two (a repeated key changes nothing), so that the
            // statement has a few shapes, which stay prepared, rather than one per batch size.
            let (senders, phones) = (padded(&senders), padded(&phones));
            let latest = reads.query(lookups.latest_conversations(senders.len(), phones.len()), {
                let mut values: Vec<Value> = vec![(*channel).into(), (*channel).into()];
                values.extend(senders.iter().map(|s| Value::from(*s)));
                if !phones.is_empty() {
                    values.push((*tenant).into());
                    values.extend(phones.iter().map(|p| Value::from(*p)));
                }
                values
            });
            asked.push((*channel, *tenant, stored, identities, by_phone, latest));
        }
        let sends = distinct(sends.iter().copied());
        let contexts = (!sends.is_empty()).then(|| reads.query_in(SEND_CONTEXTS_SQL, &[], &sends));
        let rows = reads.fetch(tx).await?;
        for row in contexts.iter().flat_map(|q| rows.of(*q)) {
            let (conversation, tenant, context) = send_context_of(row);
            self.send_contexts.insert(conversation, (tenant, context));
        }
        for (channel, tenant, stored, identities, by_phone, latest) in asked {
            for row in stored.iter().flat_map(|q| rows.of(*q)) {
                self.stored.insert((channel.to_string(), row.get("provider_message_id")));
            }
            for row in rows.of(identities) {
                let known = KnownContact { id: row.get("contact_id"), named: row.get::<Option<String>>("name").is_some() };
                self.identities.insert((channel.to_string(), row.get("provider_id")), known);
            }
            for row in by_phone.iter().flat_map(|q| rows.of(*q)) {
                let known = KnownContact { id: row.get("id"), named: row.get::<Option<String>>("name").is_some() };
                self.phones.entry((tenant.to_string(), row.get("phone"))).or_insert(known);
            }
            for row in rows.of(latest) {
                let key = (row.get::<String>("contact_id"), channel.to_string(), row.get::<String>("thread"));
                self.latest.entry(key).or_insert_with(|| LatestConversation {
                    id: row.get("id"),
                    status: ConversationStatus::parse(&row.get::<String>("status")).unwrap_or(ConversationStatus::Open),
                    resolved_at_ms: row.get("resolved_at"),
                });
            }
        }
        Ok(())
    }

    /// What sending into `conversation` needs (after [`prefetch`](Self::prefetch) was asked for
    /// it); none when the conversation is not `tenant`'s.
    pub fn send_context(&self, tenant: &str, conversation: &str) -> Option<&SendContext> {
        self.send_contexts.get(conversation).filter(|(owner, _)| owner == tenant).map(|(_, context)| context)
    }

    /// Plan one provider-reported message (after [`prefetch`](Self::prefetch) saw it).
    pub fn add_message(&mut self, t: &IngestTarget<'_>, m: &ReportedMessage) -> Added {
        if !self.stored.insert((t.channel.to_string(), m.provider_message_id.clone())) {
            return Added::Duplicate;
        }
        let contact = self.contact_for(t, &m.contact);
        let thread = if m.extra.get("comment").is_some() { "comment" } else { "direct" };
        let conversation = self.thread(t, &contact, thread);
        let id = new_id();
        let (direction, status) = if m.outbound { ("outbound", DeliveryState::Sent) } else { ("inbound", DeliveryState::Received) };
        self.messages.push([
            Value::from(&id),
            t.tenant.into(),
            Value::from(&conversation),
            t.channel.into(),
            Value::from(&contact),
            direction.into(),
            Value::from(&m.provider_message_id),
            serde_json::to_string(&m.parts).expect("parts serialize").into(),
            m.reply_to.clone().into(),
            status.as_str().into(),
            m.segments.map(i64::from).into(),
            m.extra.to_string().into(),
            m.timestamp_ms.into(),
            self.now.into(),
            self.now.into(),
        ]);
        // Media the provider holds is downloaded after the commit, by the media worker.
        for (index, part) in m.parts.iter().enumerate() {
            if let Part::Media { media } = part
                && (media.provider_media_id.is_some() || media.url.is_some())
            {
                self.media_jobs.push([
                    Value::from(&id),
                    (index as i64).into(),
                    t.tenant.into(),
                    t.channel.into(),
                    serde_json::to_string(media).expect("media serializes").into(),
                    self.now.into(),
                ]);
            }
        }
        self.touch(&conversation, m.outbound);
        let summary = serde_json::json!({
            "conversation_id": conversation, "message_id": id, "contact_id": contact, "channel_id": t.channel,
            "direction": direction, "parts": m.parts,
        })
        .to_string();
        self.record(t.tenant, &contact, Some(&conversation), "message", summary.clone());
        self.events.push((t.tenant.to_string(), "message.created".into(), summary));
        Added::New
    }

    /// Plan an agent's message and its outbox row; returns the message id. With a `lease`
    /// (owner, until in Unix ms) the row is written already claimed by that owner, for a
    /// dispatcher that gets the message from the writer instead of claiming it.
    pub fn add_outbound(&mut self, m: &NewOutbound, idempotency_key: Option<&str>, lease: Option<(&str, i64)>) -> String {
        let id = new_id();
        let parts = m.parts.to_string();
        self.outbound.push([
            Value::from(&id),
            Value::from(&m.tenant),
            Value::from(&m.conversation),
            Value::from(&m.context.channel_id),
            Value::from(&m.context.contact_id),
            "outbound".into(),
            parts.into(),
            m.reply_to.clone().into(),
            Value::from(&m.author),
            DeliveryState::Pending.as_str().into(),
            self.now.into(),
            self.now.into(),
        ]);
        self.outbox.push([
            Value::from(&id),
            Value::from(&m.tenant),
            Value::from(&m.context.channel_id),
            m.payload.to_string().into(),
            0i64.into(),
            self.now.into(),
            lease.map(|(owner, _)| owner.to_string()).into(),
            lease.map_or(0, |(_, until)| until).into(),
            self.now.into(),
        ]);
        if let Some(key) = idempotency_key {
            self.idempotency.push([Value::from(&m.tenant), Value::from(key), Value::from(&id), self.now.into()]);
        }
        self.touch(&m.conversation, true);
        let data = serde_json::json!({
            "conversation_id": m.conversation, "message_id": id, "contact_id": m.context.contact_id,
            "channel_id": m.context.channel_id, "direction": "outbound", "author_id": m.author, "parts": m.parts,
        })
        .to_string();
        self.record(&m.tenant, &m.context.contact_id, Some(&m.conversation), "message", data.clone());
        self.events.push((m.tenant.clone(), "message.created".into(), data));
        id
    }

    /// Write everything planned, in the order the foreign keys need, as one [`Script`]; stream
    /// events go to `events`.
    pub async fn flush(mut self, tx: &mut Conn<'_>, events: &Events) -> sqlx::Result<()> {
        let now = self.now;
        // A conversation the batch opens is written with its first messages' times, rather than
        // inserted and then updated with them.
        let times = [(&mut self.touched_inbound, ["first_inbound_at", "last_inbound_at"]), (&mut self.touched_outbound, ["first_response_at", "last_outbound_at"])];
        for (touched, columns) in times {
            touched.retain(|id| match self.opened.get(id) {
                Some(&row) => {
                    for column in columns {
                        self.conversations.set(row, column, now.into());
                    }
                    false
                }
                None => true,
            });
        }
        let mut script = Script::new();
        script.insert(&self.contacts, "a contact");
        for (contact, name) in &self.names {
            let sql = "UPDATE contacts SET name = $1, updated_at = $2 WHERE id = $3".to_string();
            script.statement(sql, vec![name.into(), now.into(), contact.into()], 1, "a contact's name");
        }
        script.insert(&self.identity_rows, "a contact identity");
        script.insert(&self.conversations, "a conversation");
        let sql = "UPDATE conversations SET status = 'open', updated_at = $1 WHERE status = 'snoozed' AND id IN ({ids})";
        script.for_each_id(sql, &[now.into()], &self.woken, "a snoozed conversation");
        let sql = "UPDATE conversations SET status = 'open', resolved_at = NULL, updated_at = $1 WHERE id IN ({ids})";
        script.for_each_id(sql, &[now.into()], &self.reopened, "a reopened conversation");
        script.insert(&self.messages, "a message");
        script.insert(&self.outbound, "an agent's message");
        script.insert(&self.media_jobs, "a media download");
        script.insert(&self.outbox, "an outbox row");
        script.insert(&self.idempotency, "an idempotency key");
        let inbound: Vec<String> = self.touched_inbound.into_iter().collect();
        let sql = "UPDATE conversations SET last_inbound_at = $1, first_inbound_at = COALESCE(first_inbound_at, $2), window_closed = 0,
                   updated_at = $3 WHERE id IN ({ids})";
        script.for_each_id(sql, &[now.into(), now.into(), now.into()], &inbound, "a conversation");
        let outbound: Vec<String> = self.touched_outbound.into_iter().collect();
        let sql = "UPDATE conversations SET last_outbound_at = $1, first_response_at = COALESCE(first_response_at, $2), updated_at = $3
                   WHERE id IN ({ids})";
        script.for_each_id(sql, &[now.into(), now.into(), now.into()], &outbound, "a conversation");
        script.insert(&self.timeline, "a timeline item");
        events.run_with(tx, script, self.events, now).await
    }

    /// The contact behind an identity on a channel, created if new. A new identity whose phone
    /// number matches a contact of the tenant joins that contact, so one person is one customer
    /// across channels.
    pub fn contact_for(&mut self, t: &IngestTarget<'_>, who: &Identity) -> String {
        let key = (t.channel.to_string(), who.provider_id.clone());
        if let Some(known) = self.identities.get_mut(&key) {
            // Learn the customer's name the first time a channel tells it.
            if !known.named
                && let Some(name) = &who.display_name
            {
                self.names.push((known.id.clone(), name.clone()));
                known.named = true;
            }
            return known.id.clone();
        }
        let by_phone = who.phone.as_ref().map(|phone| (t.tenant.to_string(), phone.clone()));
        let contact = match by_phone.as_ref().and_then(|k| self.phones.get(k)) {
            Some(known) => known.clone(),
            None => {
                let id = new_id();
                self.contacts.push([
                    Value::from(&id),
                    t.tenant.into(),
                    who.display_name.clone().into(),
                    who.phone.clone().into(),
                    self.now.into(),
                    self.now.into(),
                ]);
                let known = KnownContact { id, named: who.display_name.is_some() };
                if let Some(k) = by_phone {
                    self.phones.insert(k, known.clone());
                }
                known
            }
        };
        self.identity_rows.push([
            t.channel.into(),
            Value::from(&who.provider_id),
            t.tenant.into(),
            Value::from(&contact.id),
            who.display_name.clone().into(),
            self.now.into(),
        ]);
        let id = contact.id.clone();
        self.identities.insert(key, contact);
        id
    }

    /// The conversation a new inbound item of `contact` on `thread` joins (creating or reopening
    /// one).
    pub fn thread(&mut self, t: &IngestTarget<'_>, contact: &str, thread: &str) -> String {
        let key = (contact.to_string(), t.channel.to_string(), thread.to_string());
        match thread_inbound(self.latest.get(&key), t.now_ms, t.reopen_window_ms) {
            Threading::Join(id) => {
                let latest = self.latest.get_mut(&key).expect("joined a known conversation");
                if latest.status == ConversationStatus::Snoozed {
                    latest.status = ConversationStatus::Open;
                    self.woken.push(id.clone());
                }
                id
            }
            Threading::Reopen(id) => {
                let latest = self.latest.get_mut(&key).expect("reopened a known conversation");
                latest.status = ConversationStatus::Open;
                latest.resolved_at_ms = None;
                self.reopened.push(id.clone());
                self.record(t.tenant, contact, Some(&id), "conversation.reopened", "{}".into());
                id
            }
            Threading::Start => {
                let id = new_id();
                let tier = if thread == "comment" { "proactive" } else { t.tier };
                self.conversations.push([
                    Value::from(&id),
                    t.tenant.into(),
                    t.channel.into(),
                    contact.into(),
                    ConversationStatus::Open.as_str().into(),
                    tier.into(),
                    thread.into(),
                    self.now.into(),
                    self.now.into(),
                    Value::MaybeInt(None),
                    Value::MaybeInt(None),
                    Value::MaybeInt(None),
                    Value::MaybeInt(None),
                ]);
                self.opened.insert(id.clone(), self.conversations.len() - 1);
                let data = serde_json::json!({ "channel": t.channel, "tier": tier, "thread": thread }).to_string();
                self.record(t.tenant, contact, Some(&id), "conversation.opened", data);
                self.latest.insert(key, LatestConversation { id: id.clone(), status: ConversationStatus::Open, resolved_at_ms: None });
                id
            }
        }
    }

    /// Note that a message went into or out of a conversation.
    fn touch(&mut self, conversation: &str, outbound: bool) {
        let touched = if outbound { &mut self.touched_outbound } else { &mut self.touched_inbound };
        touched.insert(conversation.to_string());
    }

    /// Add an item to a contact's cross-channel timeline.
    fn record(&mut self, tenant: &str, contact: &str, conversation: Option<&str>, kind: &str, data: String) {
        self.timeline.push([
            tenant.into(),
            contact.into(),
            conversation.map(str::to_string).into(),
            kind.into(),
            data.into(),
            self.now.into(),
        ]);
    }
}

/// `keys` with its last key repeated up to a power-of-two length.
fn padded<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    let mut out = keys.to_vec();
    if let Some(last) = keys.last() {
        out.resize(keys.len().next_power_of_two(), last);
    }
    out
}

/// The prefetch's lookups by lists of keys, as each database plans them well.
///
/// SQLite takes `column IN (…)` beside `channel_id = $1` to the index on both. PostgreSQL, for a
/// young table that autovacuum has not analyzed yet (it does within a minute or so), takes the
/// channel or tenant for selective and scans every row it has, a cost that grows with each
/// message until statistics arrive. There each key is looked up on its own, in a `LATERAL`
/// subquery fenced off by `LIMIT` or `OFFSET 0`, which the index on both columns serves whatever
/// the statistics say.
struct Lookups {
    /// Stored messages of a channel (`$1`) among provider ids `{…}`.
    stored: &'static str,
    /// Identities on a channel (`$1`) among provider ids, with their contact's name.
    identities: &'static str,
    /// A tenant's (`$1`) contacts among phone numbers, oldest first.
    phones: &'static str,
    postgres: bool,
}

impl Lookups {
    fn of(backend: &str) -> Lookups {
        if backend == "PostgreSQL" {
            Lookups {
                stored: "SELECT m.provider_message_id FROM (VALUES {keys}) AS v(key) CROSS JOIN LATERAL (
                           SELECT provider_message_id FROM messages WHERE channel_id = $1 AND provider_message_id = v.key LIMIT 1) AS m",
                identities: "SELECT i.provider_id, i.contact_id, i.name FROM (VALUES {keys}) AS v(key) CROSS JOIN LATERAL (
                               SELECT i.provider_id, i.contact_id, c.name FROM contact_identities i JOIN contacts c ON c.id = i.contact_id
                               WHERE i.channel_id = $1 AND i.provider_id = v.key LIMIT 1) AS i",
                phones: "SELECT c.id, c.phone, c.name FROM (VALUES {keys}) AS v(key) CROSS JOIN LATERAL (
                           SELECT id, phone, name, created_at FROM contacts WHERE tenant_id = $1 AND merged_into IS NULL AND phone = v.key
                           OFFSET 0) AS c ORDER BY c.created_at, c.id",
                postgres: true,
            }
        } else {
            Lookups {
                stored: "SELECT provider_message_id FROM messages WHERE channel_id = $1 AND provider_message_id IN ({ids})",
                identities: "SELECT i.provider_id, i.contact_id, c.name FROM contact_identities i JOIN contacts c ON c.id = i.contact_id
                             WHERE i.channel_id = $1 AND i.provider_id IN ({ids})",
                phones: "SELECT id, phone, name FROM contacts WHERE tenant_id = $1 AND merged_into IS NULL AND phone IN ({ids})
                         ORDER BY created_at, id",
                postgres: false,
            }
        }
    }

    /// The conversations on a channel (`$1`) of the contacts that `senders` identities on it
    /// (`$2`, then the senders) or `phones` (the tenant, then the phones) lead to, latest first.
    fn latest_conversations(&self, senders: usize, phones: usize) -> String {
        use crate::store::bulk::{key_rows, placeholders};
        if !self.postgres {
            let mut sql = format!(
                "SELECT id, contact_id, thread, status, resolved_at FROM conversations WHERE channel_id = $1 AND contact_id IN (
                   SELECT contact_id FROM contact_identities WHERE channel_id = $2 AND provider_id IN ({})",
                placeholders(3, senders)
            );
            if phones > 0 {
                sql.push_str(&format!(
                    " UNION SELECT id FROM contacts WHERE tenant_id = ${} AND merged_into IS NULL AND phone IN ({})",
                    3 + senders,
                    placeholders(4 + senders, phones)
                ));
            }
            sql.push_str(") ORDER BY created_at DESC, id DESC");
            return sql;
        }
        let mut sql = format!(
            "SELECT c.id, c.contact_id, c.thread, c.status, c.resolved_at FROM (
               SELECT i.contact_id FROM (VALUES {}) AS v(key) CROSS JOIN LATERAL (
                 SELECT contact_id FROM contact_identities WHERE channel_id = $2 AND provider_id = v.key LIMIT 1) AS i",
            key_rows(3, senders)
        );
        if phones > 0 {
            sql.push_str(&format!(
                " UNION SELECT p.id FROM (VALUES {}) AS w(key) CROSS JOIN LATERAL (
                   SELECT id FROM contacts WHERE tenant_id = ${} AND merged_into IS NULL AND phone = w.key OFFSET 0) AS p",
                key_rows(4 + senders, phones),
                3 + senders
            ));
        }
        sql.push_str(
            ") AS who CROSS JOIN LATERAL (
               SELECT id, contact_id, thread, status, resolved_at, created_at FROM conversations
               WHERE contact_id = who.contact_id AND channel_id = $1 OFFSET 0) AS c
             ORDER BY c.created_at DESC, c.id DESC",
        );
        sql
    }
}

/// The distinct items, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    items.filter(|item| seen.insert(*item)).collect()
}
