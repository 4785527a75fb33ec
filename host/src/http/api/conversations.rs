//! Conversations: list, read, assign, change, annotate, and send into them.

use super::auth::Caller;
use super::json::{Body, Params};
use crate::delivery::payload::Payload;
use crate::domain::conversation::{ConversationStatus, Priority};
use crate::domain::outbound::OutboundContent;
use crate::domain::policy::{Allowed, ChannelRules, ConversationFacts, check_send};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::ingest::translate::media_kind;
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use crate::store::conversations::{self as store, Change, ConversationFilter, NewOutbound, SendContext};
use crate::store::now_ms;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

/// Most items on one page.
const MAX_PAGE: i64 = 100;

/// `GET /v1/conversations` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    status: Option<ConversationStatus>,
    channel_id: Option<String>,
    /// An agent id, `me`, or `none` for unassigned.
    assignee_id: Option<String>,
    contact_id: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// List conversations, newest first, with cursor pagination.
pub async fn list(State(state): State<AppState>, caller: Caller, Params(p): Params<ListParams>) -> Result<Json<Value>, ApiError> {
    let limit = p.limit.unwrap_or(25);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", format!("must be between 1 and {MAX_PAGE}")));
    }
    let filter = ConversationFilter {
        status: p.status.map(|s| s.as_str().to_string()),
        channel_id: p.channel_id,
        assignee_id: p.assignee_id.map(|a| match a.as_str() {
            "none" => None,
            "me" => Some(caller.0.user_id.clone()),
            _ => Some(a),
        }),
        contact_id: p.contact_id,
        before: p.cursor,
        limit,
    };
    let (items, next) = store::list(&state.db, &caller.0.tenant, &filter).await?;
    Ok(Json(json!({ "items": items, "next_cursor": next })))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<Value, ApiError> {
    store::get(&state.db, &caller.0.tenant, id).await?.ok_or_else(|| ApiError::not_found(format!("no conversation `{id}`")))
}

/// A conversation with its messages and notes.
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let conversation = load(&state, &caller, &id).await?;
    let messages = store::messages(&state.db, &caller.0.tenant, &id).await?;
    let notes = store::notes(&state.db, &caller.0.tenant, Some(&id), None).await?;
    Ok(Json(json!({ "conversation": conversation, "messages": messages, "notes": notes })))
}

/// One message.
pub async fn get_message(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    store::message(&state.db, &caller.0.tenant, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no message `{id}`")))
}

/// A channel's loaded connector and the sandbox context for calls on it.
struct Wired {
    connector: std::sync::Arc<crate::runtime::LoadedConnector>,
    context: std::sync::Arc<crate::runtime::ChannelContext>,
}

/// The channel and its loaded connector.
fn channel_of(state: &AppState, channel_id: &str) -> Result<(std::sync::Arc<crate::channels::Channel>, std::sync::Arc<crate::runtime::LoadedConnector>), ApiError> {
    let channel = state
        .channels
        .get(channel_id)
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "channel_removed", format!("channel `{channel_id}` no longer exists")))?;
    let connector = state.connectors.get(&channel.connector).ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "connector_unavailable", format!("connector `{}` is not loaded", channel.connector))
    })?;
    Ok((channel, connector))
}

fn wire(state: &AppState, channel_id: &str) -> Result<Wired, ApiError> {
    let (_, connector) = channel_of(state, channel_id)?;
    let context = state
        .channels
        .context(channel_id, &connector)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "channel_misconfigured", e))?;
    Ok(Wired { connector, context })
}

/// Run an action on a channel; a refusal or a connector failure is a 502 naming it.
async fn act(state: &AppState, wired: Wired, action: wit::Action, what: &str) -> Result<wit::ActionReceipt, ApiError> {
    match state.connectors.runtime().act(&wired.connector, wired.context, action).await {
        Ok(Ok(receipt)) => Ok(receipt),
        Ok(Err(e)) => {
            let (_, error, _) = crate::ingest::translate::send_error_parts(&e);
            Err(ApiError::new(StatusCode::BAD_GATEWAY, "provider_refused", format!("the provider refused the {what}: {} {}", error.code, error.title)))
        }
        Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, "connector_failed", e.to_string())),
    }
}

/// `POST /v1/conversations/{id}/messages` body: `content`, or the `text` shortcut.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    content: Option<OutboundContent>,
    text: Option<String>,
    /// Our id of the message this one replies to.
    reply_to: Option<String>,
}

/// Queue a message: checked against the channel's rules and the conversation's state (reply
/// window, consent) in the transaction that stores it with its outbox row, then answered 202
/// with the message.
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(request): Body<SendRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = caller.0.tenant.as_str();
    let content = match (request.content, request.text) {
        (Some(c), None) => c,
        (None, Some(text)) => OutboundContent::Text { text },
        _ => return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", "send either `content` or `text`")),
    };
    content.validate().map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", why))?;
    let idempotency_key = headers.get("idempotency-key").map(|v| v.to_str().unwrap_or("")).map(str::to_string);
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.len() > 200)
    {
        return Err(ApiError::invalid("Idempotency-Key", "must be 1 to 200 visible ASCII characters"));
    }
    let mut attachment_mime = None;
    if let OutboundContent::Media { media } = &content
        && let Some(attachment) = &media.attachment_id
    {
        let found = crate::store::attachments::get(&state.db, tenant, attachment).await?;
        let (info, _) = found.ok_or_else(|| ApiError::invalid("media.attachment_id", format!("`{attachment}` is not an attachment of this tenant")))?;
        attachment_mime = info.mime_type;
    }
    let reply_to_provider = match &request.reply_to {
        Some(our_id) => {
            let replied = store::message(&state.db, tenant, our_id).await?.filter(|m| m["conversation_id"] == json!(id));
            let replied = replied.ok_or_else(|| ApiError::invalid("reply_to", format!("`{our_id}` is not a message of this conversation")))?;
            replied["provider_message_id"].as_str().map(str::to_string)
        }
        None => None,
    };
    let parts = match &content {
        OutboundContent::Text { text } => json!([{ "type": "text", "text": text }]),
        OutboundContent::Media { media } => json!([{ "type": "media", "media": media }]),
        OutboundContent::Template { template } => {
            json!([{ "type": "template", "name": template.name, "language": template.language, "components": template.components }])
        }
        OutboundContent::Interactive { interactive } => json!([{ "type": "interactive", "message": interactive }]),
    };
    // The checks that depend on the conversation run in the writer, against the conversation
    // as the transaction that queues the message reads it.
    let plan = {
        let (state, tenant, id, author, reply_to) = (state.clone(), tenant.to_string(), id.clone(), caller.0.user_id.clone(), request.reply_to);
        move |context: Option<&SendContext>| -> Result<NewOutbound, ApiError> {
            let context = context.ok_or_else(|| ApiError::not_found(format!("no conversation `{id}`")))?;
            let (channel, connector) = channel_of(&state, &context.channel_id)?;
            let caps = &connector.info.capabilities;
            let rules = ChannelRules {
                reply_window_seconds: caps.reply_window_seconds,
                max_text_length: caps.max_text_length,
                attachment_kinds: caps.attachment_kinds.iter().map(|k| media_kind(*k).to_string()).collect(),
                templates: caps.templates,
                interactive: caps.interactive,
                human_agent_window_seconds: caps.human_agent_window_seconds.filter(|_| channel.human_agent_tag),
            };
            let facts = ConversationFacts { last_inbound_ms: context.last_inbound_ms, window_closed: context.window_closed, opted_out: context.opted_out };
            let allowed = check_send(&content.policy_kind(), &rules, &facts, now_ms())
                .map_err(|refusal| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, refusal.code, refusal.message))?;
            let tag = (allowed == Allowed::HumanAgentTag).then(|| "HUMAN_AGENT".to_string());
            let recipient = context.recipient.clone().ok_or_else(|| {
                ApiError::new(StatusCode::CONFLICT, "no_recipient", "the contact has no identity on this conversation's channel")
            })?;
            let payload = Payload { to: recipient, content: content.clone(), reply_to: reply_to_provider.clone(), tag, attachment_mime: attachment_mime.clone() };
            Ok(NewOutbound {
                tenant: tenant.clone(),
                conversation: id.clone(),
                context: context.clone(),
                author: author.clone(),
                parts: parts.clone(),
                reply_to: reply_to.clone(),
                payload: serde_json::to_value(&payload).expect("payload serializes"),
            })
        }
    };
    let queued = state
        .ingestor
        .queue_outbound(tenant, &id, idempotency_key, plan)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", format!("{e}; retry with the same Idempotency-Key")))??;
    let message = match &queued.message {
        Some(message) => {
            state.bump_events();
            store::queued_json(&queued.id, message, queued.at)
        }
        // The first send with this Idempotency-Key, as it is now.
        None => store::message(&state.db, tenant, &queued.id).await?.unwrap_or(Value::Null),
    };
    Ok((StatusCode::ACCEPTED, Json(json!({ "id": queued.id, "message": message }))))
}

/// `POST .../assign` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The agent, or null to unassign.
    assignee_id: Option<String>,
    /// The team.
    team: Option<String>,
}

async fn apply(state: &AppState, caller: &Caller, id: &str, change: Change) -> Result<Json<Value>, ApiError> {
    let updated = store::change(&state.db, &caller.0.tenant, id, &caller.0.user_id, change).await?;
    state.bump_events();
    updated.map(Json).ok_or_else(|| ApiError::not_found(format!("no conversation `{id}`")))
}

/// Assign a conversation to an agent (or unassign it).
pub async fn assign(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<AssignRequest>) -> Result<Json<Value>, ApiError> {
    if let Some(agent) = &r.assignee_id
        && crate::store::users::get_user(&state.db, &caller.0.tenant, agent).await?.is_none()
    {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", format!("`assignee_id`: no user `{agent}` in this tenant")));
    }
    if let Some(team) = &r.team
        && (team.is_empty() || team.len() > 64)
    {
        return Err(ApiError::invalid("team", "must be 1 to 64 characters"));
    }
    apply(&state, &caller, &id, Change::Assign { assignee: r.assignee_id, team: r.team }).await
}

/// Assign a conversation to the caller.
pub async fn claim(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let me = caller.0.user_id.clone();
    apply(&state, &caller, &id, Change::Assign { assignee: Some(me), team: None }).await
}

/// `POST .../status` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    status: ConversationStatus,
}

/// Change a conversation's status.
pub async fn set_status(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<StatusRequest>) -> Result<Json<Value>, ApiError> {
    apply(&state, &caller, &id, Change::Status(r.status.as_str().into())).await
}

/// `POST .../priority` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityRequest {
    priority: Priority,
}

/// Change a conversation's priority.
pub async fn set_priority(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<PriorityRequest>) -> Result<Json<Value>, ApiError> {
    apply(&state, &caller, &id, Change::Priority(r.priority.as_str().into())).await
}

/// `PUT .../labels` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    labels: Vec<String>,
}

/// Replace a conversation's labels.
pub async fn set_labels(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<LabelsRequest>) -> Result<Json<Value>, ApiError> {
    if r.labels.len() > 50 {
        return Err(ApiError::invalid("labels", "has more than 50 entries"));
    }
    if let Some(bad) = r.labels.iter().find(|l| l.trim().is_empty() || l.len() > 64) {
        return Err(ApiError::invalid("labels", format!("entry `{bad}` must be 1 to 64 characters")));
    }
    let mut labels = r.labels;
    labels.sort();
    labels.dedup();
    apply(&state, &caller, &id, Change::Labels(labels)).await
}

/// `POST .../notes` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note.
    pub body: String,
}

/// Validate a note body.
pub fn check_note(body: &str) -> Result<(), ApiError> {
    if body.trim().is_empty() || body.chars().count() > 10_000 {
        return Err(ApiError::invalid("body", "must be 1 to 10000 characters"));
    }
    Ok(())
}

/// Add an internal note to a conversation.
pub async fn add_note(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<NoteRequest>) -> Result<impl IntoResponse, ApiError> {
    check_note(&r.body)?;
    let conversation = load(&state, &caller, &id).await?;
    let contact = conversation["contact_id"].as_str().unwrap_or_default();
    let note = store::add_note(&state.db, &caller.0.tenant, Some(&id), contact, &caller.0.user_id, &r.body).await?;
    state.bump_events();
    Ok((StatusCode::CREATED, Json(note)))
}

/// Mark the customer's latest message read on the channel (read receipts, "seen").
pub async fn mark_read(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let tenant = caller.0.tenant.as_str();
    let context = store::send_context(&state.db, tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no conversation `{id}`")))?;
    let wired = wire(&state, &context.channel_id)?;
    if !wired.connector.info.capabilities.read_receipts {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "read_receipts_unsupported", "this channel has no read receipts"));
    }
    let provider_id = store::latest_inbound(&state.db, tenant, &id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "nothing_to_read", "the customer has not written in this conversation"))?;
    let recipient = context.recipient.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no_recipient", "the contact has no identity on this channel"))?;
    act(&state, wired, wit::Action::MarkRead((recipient, provider_id)), "read receipt").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../typing` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    active: bool,
}

/// Show or hide the business's typing indicator to the customer.
pub async fn typing(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<TypingRequest>) -> Result<StatusCode, ApiError> {
    let context = store::send_context(&state.db, &caller.0.tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no conversation `{id}`")))?;
    let wired = wire(&state, &context.channel_id)?;
    if !wired.connector.info.capabilities.typing {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "typing_unsupported", "this channel has no typing indicator"));
    }
    let recipient = context.recipient.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no_recipient", "the contact has no identity on this channel"))?;
    let latest = store::latest_inbound(&state.db, &caller.0.tenant, &id).await?;
    let typing = wit::TypingRequest { to: recipient, active: r.active, in_reply_to: latest };
    act(&state, wired, wit::Action::Typing(typing), "typing indicator").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/messages/{id}/private-reply` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateReplyRequest {
    text: String,
}

/// Answer a public comment privately, in direct messages. The reply is recorded in the comment's
/// conversation.
pub async fn private_reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(r): Body<PrivateReplyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant = caller.0.tenant.as_str();
    if r.text.trim().is_empty() || r.text.chars().count() > 1000 {
        return Err(ApiError::invalid("text", "must be 1 to 1000 characters"));
    }
    let comment = store::message(&state.db, tenant, &id).await?.ok_or_else(|| ApiError::not_found(format!("no message `{id}`")))?;
    if comment["extra"]["comment"] != json!(true) {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_a_comment", "private replies answer comments; this message is not one"));
    }
    let comment_id = comment["provider_message_id"].as_str().unwrap_or_default().to_string();
    let conversation = comment["conversation_id"].as_str().unwrap_or_default().to_string();
    let channel_id = comment["channel_id"].as_str().unwrap_or_default().to_string();
    let wired = wire(&state, &channel_id)?;
    if !wired.connector.info.capabilities.comments {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "comments_unsupported", "this channel has no comments"));
    }
    let receipt = act(&state, wired, wit::Action::PrivateReply((comment_id, r.text.clone())), "private reply").await?;
    let send_context = store::send_context(&state.db, tenant, &conversation).await?.ok_or_else(|| ApiError::not_found("the comment's conversation is gone"))?;
    let message_id = store::record_sent(
        &state.db,
        tenant,
        &conversation,
        &send_context,
        &caller.0.user_id,
        json!([{ "type": "text", "text": r.text }]),
        receipt.provider_id.as_deref(),
        json!({ "private_reply_to": id }),
    )
    .await?;
    state.bump_events();
    let message = store::message(&state.db, tenant, &message_id).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": message_id, "message": message }))))
}

/// `POST /v1/conversations/{id}/call` body.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// The voice channel to call from; the tenant's first voice channel when absent.
    channel_id: Option<String>,
}

/// Call the customer from this conversation: the voice channel places the call, and the call's
/// events join this conversation. The conversation's assignee is rung when the customer answers.
pub async fn call(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, Body(r): Body<CallRequest>) -> Result<impl IntoResponse, ApiError> {
    let tenant = caller.0.tenant.as_str();
    let conversation = load(&state, &caller, &id).await?;
    let contact_id = conversation["contact_id"].as_str().unwrap_or_default().to_string();
    let contact = store::contact(&state.db, tenant, &contact_id).await?.ok_or_else(|| ApiError::not_found("the conversation's contact is gone"))?;
    let phone = contact["phone"].as_str().map(str::to_string).ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_phone", "the customer has no phone number; add one to the contact first")
    })?;
    let voice = state
        .channels
        .all()
        .into_iter()
        .filter(|c| c.tenant == tenant && r.channel_id.as_ref().is_none_or(|wanted| &c.id == wanted))
        .find_map(|c| state.connectors.get(&c.connector).filter(|k| k.info.capabilities.calls).map(|k| (c, k)));
    let (channel, _) = voice.ok_or_else(|| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "no_voice_channel", "the tenant has no voice channel to call from (or `channel_id` is not one)")
    })?;
    let wired = wire(&state, &channel.id)?;
    let action = wit::Action::StartCall(wit::CallRequest { to: phone.clone(), reference: id.clone() });
    let receipt = act(&state, wired, action, "call").await?;
    let data = json!({ "channel_id": channel.id, "call_id": receipt.provider_id, "to": phone, "requested_by": caller.0.user_id, "conversation_id": id });
    store::record_timeline(&state.db, tenant, &contact_id, Some(&id), "call.requested", &data).await?;
    state.bump_events();
    Ok((StatusCode::ACCEPTED, Json(json!({ "call_id": receipt.provider_id, "channel_id": channel.id }))))
}
