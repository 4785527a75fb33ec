//! Sending through the Cloud API: `POST {base}/{version}/{phone-number-id}/messages`.

use crate::errors;
use serde_json::{Value, json};
use switchboard_sdk::errors::from_http_error;
use switchboard_sdk::http::{FormPart, Request, Response};
use switchboard_sdk::json;
use switchboard_sdk::prelude::*;

/// The Graph API for this channel's phone number.
struct Graph {
    api: meta_graph::Graph,
    base: String,
    token: String,
    phone_number_id: String,
}

impl Graph {
    fn load() -> Result<Graph, SendError> {
        let api = meta_graph::Graph::from_settings(crate::DEFAULT_GRAPH_URL, crate::DEFAULT_GRAPH_VERSION)?;
        Ok(Graph { base: api.root.clone(), token: api.token.clone(), api, phone_number_id: require_setting("phone-number-id")? })
    }

    fn messages(&self, body: &Value) -> Result<Response, SendError> {
        self.api.post_json(&format!("{}/messages", self.phone_number_id), body, |e, status| errors::category(e.code, status))
    }
}

fn media_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image",
        MediaKind::Audio | MediaKind::Voice => "audio",
        MediaKind::Video => "video",
        MediaKind::Sticker => "sticker",
        MediaKind::Document | MediaKind::File => "document",
    }
}

/// Upload media bytes (`POST /{phone-number-id}/media`) and return the media id.
fn upload(graph: &Graph, media: &OutboundMedia, data: &[u8]) -> Result<String, SendError> {
    let mime = media.mime_type.clone().unwrap_or_else(|| "application/octet-stream".into());
    let filename = media.filename.clone().unwrap_or_else(|| "upload".into());
    let response = Request::post(&format!("{}/{}/media", graph.base, graph.phone_number_id))
        .bearer(&graph.token)
        .multipart(&[
            FormPart::text("messaging_product", "whatsapp"),
            FormPart::text("type", &mime),
            FormPart::file("file", &filename, &mime, data.to_vec()),
        ])
        .send()
        .map_err(from_http_error)?;
    if !response.is_success() {
        return Err(errors::from_response(&response));
    }
    response
        .json::<Value>()
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| SendError::Transient(provider_error("bad-response", "the media upload answer had no id")))
}

/// The `{type}: {...}` object of a media message: by id after an upload, or by link.
fn media_object(graph: &Graph, media: &OutboundMedia) -> Result<Value, SendError> {
    let mut object = match (&media.data, &media.url) {
        (Some(data), _) => json!({ "id": upload(graph, media, data)? }),
        (None, Some(url)) => json!({ "link": url }),
        (None, None) => return Err(SendError::Rejected(provider_error("no-media", "the media has neither a link nor data"))),
    };
    let kind = media_type(media.kind);
    if let Some(caption) = &media.caption
        && matches!(kind, "image" | "video" | "document")
    {
        object["caption"] = json!(caption);
    }
    if let Some(filename) = &media.filename
        && kind == "document"
    {
        object["filename"] = json!(filename);
    }
    Ok(object)
}

fn template_parameter(graph: &Graph, p: &TemplateParameter) -> Result<Value, SendError> {
    Ok(match p {
        TemplateParameter::Text(text) => json!({ "type": "text", "text": text }),
        TemplateParameter::Currency((code, amount_1000, fallback)) => {
            json!({ "type": "currency", "currency": { "fallback_value": fallback, "code": code, "amount_1000": amount_1000 } })
        }
        TemplateParameter::DateTime(fallback) => json!({ "type": "date_time", "date_time": { "fallback_value": fallback } }),
        TemplateParameter::Media(media) => {
            let kind = media_type(media.kind);
            json!({ "type": kind, kind: media_object(graph, media)? })
        }
        TemplateParameter::Payload(payload) => json!({ "type": "payload", "payload": payload }),
    })
}

/// The request body for one message.
fn body(graph: &Graph, message: &OutboundMessage) -> Result<Value, SendError> {
    let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": message.to });
    match &message.content {
        OutboundContent::Text(text) => {
            body["type"] = json!("text");
            body["text"] = json!({ "preview_url": text.contains("https://") || text.contains("http://"), "body": text });
        }
        OutboundContent::Media(media) => {
            let kind = media_type(media.kind);
            body["type"] = json!(kind);
            body[kind] = media_object(graph, media)?;
        }
        OutboundContent::Template(t) => {
            let mut components = Vec::new();
            for c in &t.components {
                let mut component = json!({ "type": c.kind });
                if let Some(sub) = &c.sub_type {
                    component["sub_type"] = json!(sub);
                }
                if let Some(index) = c.index {
                    component["index"] = json!(index.to_string());
                }
                let params: Result<Vec<Value>, SendError> = c.parameters.iter().map(|p| template_parameter(graph, p)).collect();
                component["parameters"] = json!(params?);
                components.push(component);
            }
            body["type"] = json!("template");
            body["template"] = json!({ "name": t.name, "language": { "policy": "deterministic", "code": t.language }, "components": components });
        }
        OutboundContent::Interactive(i) => {
            let mut interactive = match &i.action {
                InteractiveAction::Buttons(buttons) => json!({
                    "type": "button",
                    "action": { "buttons": buttons.iter().map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } })).collect::<Vec<_>>() },
                }),
                InteractiveAction::List((label, sections)) => json!({
                    "type": "list",
                    "action": {
                        "button": label,
                        "sections": sections.iter().map(|s| {
                            let mut section = json!({ "rows": s.rows.iter().map(|r| {
                                let mut row = json!({ "id": r.id, "title": r.title });
                                if let Some(d) = &r.description { row["description"] = json!(d); }
                                row
                            }).collect::<Vec<_>>() });
                            if let Some(t) = &s.title { section["title"] = json!(t); }
                            section
                        }).collect::<Vec<_>>(),
                    },
                }),
            };
            interactive["body"] = json!({ "text": i.body });
            if let Some(h) = &i.header {
                interactive["header"] = json!({ "type": "text", "text": h });
            }
            if let Some(f) = &i.footer {
                interactive["footer"] = json!({ "text": f });
            }
            body["type"] = json!("interactive");
            body["interactive"] = interactive;
        }
        OutboundContent::Reaction((target, emoji)) => {
            body["type"] = json!("reaction");
            body["reaction"] = json!({ "message_id": target, "emoji": emoji });
        }
    }
    if let Some(reply_to) = &message.reply_to {
        body["context"] = json!({ "message_id": reply_to });
    }
    Ok(body)
}

/// Send one message.
pub fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
    let graph = Graph::load()?;
    let body = body(&graph, &message)?;
    let response = graph.messages(&body)?;
    let id = response
        .json::<Value>()
        .ok()
        .and_then(|v| json::at(&v, "/messages/0/id").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| SendError::Transient(provider_error("bad-response", "the send answer had no messages[0].id")))?;
    Ok(SendReceipt { provider_message_id: id, segments: None })
}

/// Mark-as-read and the typing indicator. Both name the customer's message, which the host gives.
pub fn act(action: Action) -> Result<ActionReceipt, SendError> {
    let graph = Graph::load()?;
    match action {
        Action::MarkRead((_recipient, message_id)) => {
            graph.messages(&json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id }))?;
        }
        Action::Typing(typing) => {
            // WhatsApp hides the indicator by itself when the reply arrives or after 25 seconds.
            if typing.active {
                let last = typing.in_reply_to.ok_or_else(|| {
                    SendError::Rejected(provider_error("no-message", "WhatsApp shows typing only in answer to a message from the customer"))
                })?;
                graph.messages(&json!({
                    "messaging_product": "whatsapp", "status": "read", "message_id": last, "typing_indicator": { "type": "text" },
                }))?;
            }
        }
        Action::StartCall(_) | Action::PrivateReply(_) => {
            return Err(SendError::Rejected(provider_error("unsupported-action", "WhatsApp channels do not place calls or answer comments")));
        }
    }
    Ok(ActionReceipt { provider_id: None })
}

/// Download media by id: look up its URL, then fetch it with the token.
pub fn fetch_media(media: Media) -> Result<FetchedMedia, SendError> {
    let graph = Graph::load()?;
    let id = media
        .provider_media_id
        .clone()
        .ok_or_else(|| SendError::Rejected(provider_error("no-media-id", "the media item has no id")))?;
    let lookup = Request::get(&format!("{}/{id}", graph.base)).bearer(&graph.token).send().map_err(from_http_error)?;
    if !lookup.is_success() {
        return Err(errors::from_response(&lookup));
    }
    let info: Value = lookup.json().map_err(|e| SendError::Transient(provider_error("bad-response", &format!("media lookup: {e}"))))?;
    let url = info
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| SendError::Transient(provider_error("bad-response", "the media lookup had no url")))?;
    let download = Request::get(url).bearer(&graph.token).send().map_err(from_http_error)?;
    if !download.is_success() {
        return Err(errors::from_response(&download));
    }
    Ok(FetchedMedia {
        mime_type: info.get("mime_type").and_then(Value::as_str).map(str::to_string).or(media.mime_type),
        filename: media.filename,
        data: download.body,
    })
}
