//! Sending through `POST {base}/{version}/{instagram-account-id}/messages`.

use meta_graph::{Graph, GraphError};
use serde_json::{Value, json};
use switchboard_sdk::prelude::*;

/// Instagram's reading of Graph errors: subcode 2018278 is a message outside the 24-hour window
/// and 2534022 one outside the human-agent tag's 7 days; 551 means the person is unavailable.
pub fn category(e: &GraphError, status: u16) -> FailureCategory {
    match (e.code, e.error_subcode) {
        (_, Some(2018278)) | (_, Some(2534022)) => FailureCategory::WindowClosed,
        (10, _) if e.message.contains("outside of allowed window") => FailureCategory::WindowClosed,
        (551, _) => FailureCategory::Rejected,
        _ => meta_graph::common_category(e.code, status),
    }
}

fn account() -> Result<String, SendError> {
    require_setting("instagram-account-id")
}

fn post(graph: &Graph, body: &Value) -> Result<Value, SendError> {
    let response = graph.post_json(&format!("{}/messages", account()?), body, category)?;
    Ok(response.json::<Value>().unwrap_or(Value::Null))
}

fn attachment_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image | MediaKind::Sticker => "image",
        MediaKind::Video => "video",
        MediaKind::Audio | MediaKind::Voice => "audio",
        MediaKind::Document | MediaKind::File => "file",
    }
}

/// Send one message.
pub fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
    let graph = Graph::from_settings(crate::DEFAULT_GRAPH_URL, crate::DEFAULT_GRAPH_VERSION)?;
    let mut body = json!({ "recipient": { "id": message.to } });
    match &message.content {
        OutboundContent::Text(text) => body["message"] = json!({ "text": text }),
        OutboundContent::Media(media) => {
            let url = media.url.clone().ok_or_else(|| {
                SendError::Rejected(provider_error("media-by-url", "Instagram sends media by URL: give the media a public URL"))
            })?;
            body["message"] = json!({ "attachment": { "type": attachment_type(media.kind), "payload": { "url": url } } });
        }
        OutboundContent::Reaction((target, emoji)) => {
            let action = if emoji.is_empty() { "unreact" } else { "react" };
            body["sender_action"] = json!(action);
            body["payload"] = json!({ "message_id": target, "reaction": "love" });
            post(&graph, &body)?;
            return Ok(SendReceipt { provider_message_id: format!("reaction-{}", message.message_id), segments: None });
        }
        OutboundContent::Template(_) | OutboundContent::Interactive(_) => {
            return Err(SendError::Rejected(provider_error("unsupported-content", "Instagram has no templates or interactive messages: send text")));
        }
    }
    match &message.tag {
        Some(tag) => {
            body["messaging_type"] = json!("MESSAGE_TAG");
            body["tag"] = json!(tag);
        }
        None => body["messaging_type"] = json!("RESPONSE"),
    }
    if let Some(reply_to) = &message.reply_to {
        body["reply_to"] = json!({ "mid": reply_to });
    }
    let answer = post(&graph, &body)?;
    let id = answer
        .get("message_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| SendError::Transient(provider_error("bad-response", "the send answer had no message_id")))?;
    Ok(SendReceipt { provider_message_id: id, segments: None })
}

/// Typing, mark-seen and private replies to comments.
pub fn act(action: Action) -> Result<ActionReceipt, SendError> {
    let graph = Graph::from_settings(crate::DEFAULT_GRAPH_URL, crate::DEFAULT_GRAPH_VERSION)?;
    let body = match action {
        Action::Typing(typing) => {
            json!({ "recipient": { "id": typing.to }, "sender_action": if typing.active { "typing_on" } else { "typing_off" } })
        }
        Action::MarkRead((recipient, _)) => json!({ "recipient": { "id": recipient }, "sender_action": "mark_seen" }),
        Action::PrivateReply((comment_id, text)) => json!({ "recipient": { "comment_id": comment_id }, "message": { "text": text } }),
        Action::StartCall(_) => {
            return Err(SendError::Rejected(provider_error("unsupported-action", "Instagram channels do not place calls")));
        }
    };
    let answer = post(&graph, &body)?;
    Ok(ActionReceipt { provider_id: answer.get("message_id").and_then(Value::as_str).map(str::to_string) })
}
