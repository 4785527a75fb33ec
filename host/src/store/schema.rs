//! The schema, as numbered migrations. A migration, once released, never changes: add a new one.
//!
//! Every row carries its tenant. SQL is shared by SQLite and PostgreSQL; `{serial}` stands for
//! each one's auto-increment key, `{blob}` for its byte-string type and `{event_tx}` for the
//! column that orders stream events by transaction (see [`V4`]). A statement that starts with
//! `{postgres}` runs on PostgreSQL only.

/// Migrations in order: (version, SQL statements separated by `;`).
pub const MIGRATIONS: &[(i64, &str)] = &[(1, V1), (2, V2), (3, V3), (4, V4)];

const V1: &str = r#"
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    presence TEXT NOT NULL DEFAULT 'offline',
    capacity TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    connector TEXT NOT NULL,
    settings TEXT NOT NULL,
    secrets TEXT NOT NULL,
    egress TEXT,
    allow_private_egress BIGINT NOT NULL DEFAULT 0,
    reply_window_seconds BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX channels_tenant ON channels (tenant_id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT,
    phone TEXT,
    email TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    merged_into TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX contacts_tenant ON contacts (tenant_id, id);
CREATE INDEX contacts_phone ON contacts (tenant_id, phone);

CREATE TABLE contact_identities (
    channel_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    display_name TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, provider_id)
);
CREATE INDEX identities_contact ON contact_identities (contact_id);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts(id),
    status TEXT NOT NULL,
    priority TEXT NOT NULL DEFAULT 'normal',
    assignee_id TEXT,
    team TEXT,
    labels TEXT NOT NULL DEFAULT '[]',
    window_closed BIGINT NOT NULL DEFAULT 0,
    first_inbound_at BIGINT,
    first_response_at BIGINT,
    last_inbound_at BIGINT,
    last_outbound_at BIGINT,
    resolved_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_tenant ON conversations (tenant_id, id);
CREATE INDEX conversations_contact ON conversations (contact_id, channel_id, created_at);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    channel_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    provider_message_id TEXT,
    parts TEXT NOT NULL,
    reply_to TEXT,
    author_id TEXT,
    status TEXT NOT NULL,
    error TEXT,
    segments BIGINT,
    extra TEXT NOT NULL DEFAULT '{}',
    provider_timestamp BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (channel_id, provider_message_id);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

CREATE TABLE early_statuses (
    channel_id TEXT NOT NULL,
    provider_message_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, provider_message_id)
);

CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    conversation_id TEXT,
    contact_id TEXT,
    author_id TEXT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notes_conversation ON notes (conversation_id);
CREATE INDEX notes_contact ON notes (contact_id);

CREATE TABLE timeline (
    seq {serial},
    tenant_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    conversation_id TEXT,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX timeline_contact ON timeline (contact_id, seq);

CREATE TABLE events (
    seq {serial},
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, seq);

CREATE TABLE outbox (
    message_id TEXT PRIMARY KEY REFERENCES messages(id),
    tenant_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at);

CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE consents (
    contact_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    keyword TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (contact_id, channel_id, purpose)
);

CREATE TABLE connector_state (
    channel_id TEXT NOT NULL,
    key TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (channel_id, key)
)
"#;

/// Routing tiers and comment threads, the human-agent tag, channel health, attachments and the
/// media download queue.
const V2: &str = r#"
ALTER TABLE conversations ADD COLUMN tier TEXT NOT NULL DEFAULT 'reactive';
ALTER TABLE conversations ADD COLUMN thread TEXT NOT NULL DEFAULT 'direct';
ALTER TABLE channels ADD COLUMN human_agent_tag BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN health TEXT;

CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    message_id TEXT,
    mime_type TEXT,
    filename TEXT,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    data {blob} NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE media_jobs (
    message_id TEXT NOT NULL,
    part_index BIGINT NOT NULL,
    tenant_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    media TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, part_index)
)
"#;

/// Voice: where agents take calls, the calls being routed, and keys that make call events
/// idempotent.
const V3: &str = r#"
ALTER TABLE users ADD COLUMN voice_address TEXT;
ALTER TABLE users ADD COLUMN last_call_ended_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE call_sessions (
    call_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    agent_id TEXT,
    state TEXT NOT NULL,
    queue TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX call_sessions_tenant ON call_sessions (tenant_id, state);

CREATE TABLE event_keys (
    channel_id TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, key)
)
"#;

/// Stream events carry the transaction that wrote them. On PostgreSQL several writers commit a
/// tenant's events at once, so sequence numbers do not follow commit order; a stream reads events
/// in (transaction, sequence) order and only from transactions older than every one still
/// running, so a reader never passes an event that commits later. SQLite has one writer at a
/// time: its column is 0 and sequence order is commit order.
const V4: &str = r#"
ALTER TABLE events ADD COLUMN tx {event_tx};
{postgres} CREATE INDEX events_stream ON events (tenant_id, tx, seq);
{postgres} DROP INDEX events_tenant
"#;
