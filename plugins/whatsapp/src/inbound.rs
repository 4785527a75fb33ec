//! Webhooks from the WhatsApp Cloud API.
//!
//! One request may carry many entries, each with many changes, each with many messages and
//! statuses. Every message is translated on its own: one that cannot be read becomes an
//! `unsupported` part holding its raw JSON, and the rest of the request is processed.

use crate::errors;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use switchboard_sdk::json;
use switchboard_sdk::prelude::*;

/// Handle one webhook request: the handshake, or signed events.
pub fn handle(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
    meta_graph::handle(request, parse)
}

/// The envelope of a webhook: entries of changes, read into types. The messages and statuses
/// inside stay JSON values, since each is translated (or kept raw) on its own.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    entry: Option<Vec<Entry<'a>>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(default, borrow)]
    changes: Vec<Change<'a>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(default, borrow)]
    field: Option<Cow<'a, str>>,
    #[serde(default)]
    value: Option<ChangeValue>,
}

#[derive(Deserialize)]
struct ChangeValue {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: Option<String>,
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
}

/// Parse a webhook body into events.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, WebhookRejection> {
    let root: Envelope = serde_json::from_slice(body).map_err(|e| reject(400, &format!("the body is not a WhatsApp webhook: {e}")))?;
    let Some(entries) = root.entry else {
        return Err(reject(400, "the body has no `entry` list; is this a WhatsApp Business Account webhook?"));
    };
    let mut events = Vec::new();
    for change in entries.into_iter().flat_map(|entry| entry.changes) {
        if change.field.as_deref() != Some("messages") {
            // Account, template and quality updates are not conversation events.
            continue;
        }
        let Some(value) = change.value else { continue };
        parse_value(value, &mut events);
    }
    Ok(events)
}

fn parse_value(value: ChangeValue, events: &mut Vec<Event>) {
    let business = value.metadata.and_then(|m| m.phone_number_id);
    let contacts = value.contacts;
    let name_of = |wa_id: &str| -> Option<String> {
        contacts.iter().find(|c| c.wa_id.as_deref() == Some(wa_id)).and_then(|c| c.profile.as_ref()).and_then(|p| p.name.clone())
    };
    for raw in &value.messages {
        events.push(match message(raw, business.clone(), &name_of) {
            Ok(event) => event,
            Err(why) => broken(raw, business.clone(), &why),
        });
    }
    for raw in &value.statuses {
        if let Some(event) = status(raw) {
            events.push(event);
        }
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    json::at(v, pointer).and_then(Value::as_str).map(str::to_string)
}

fn millis(v: &Value, pointer: &str) -> Option<u64> {
    let t = json::at(v, pointer)?;
    let seconds = t.as_str().and_then(|s| s.parse::<u64>().ok()).or_else(|| t.as_u64())?;
    Some(seconds * 1000)
}

fn participant(wa_id: &str, name: Option<String>) -> Participant {
    Participant { id: wa_id.to_string(), display_name: name, phone: Some(format!("+{}", wa_id.trim_start_matches('+'))) }
}

fn media(raw: &Value, kind: MediaKind) -> Media {
    Media {
        kind,
        provider_media_id: text(raw, "/id"),
        url: text(raw, "/url"),
        mime_type: text(raw, "/mime_type"),
        filename: text(raw, "/filename"),
        caption: text(raw, "/caption"),
        sha256: text(raw, "/sha256"),
        size_bytes: raw.get("file_size").and_then(Value::as_u64),
    }
}

fn unsupported(type_name: &str, reason: &str, raw: &Value) -> ContentPart {
    ContentPart::Unsupported(UnsupportedContent { type_name: type_name.into(), reason: reason.into(), raw: raw.to_string() })
}

fn contact_card(c: &Value) -> ContactCard {
    let name = text(c, "/name/formatted_name")
        .or_else(|| {
            let first = text(c, "/name/first_name").unwrap_or_default();
            let last = text(c, "/name/last_name").unwrap_or_default();
            let full = format!("{first} {last}").trim().to_string();
            (!full.is_empty()).then_some(full)
        })
        .unwrap_or_default();
    let list = |key: &str, field: &str| -> Vec<String> {
        c.get(key)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| i.get(field).and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default()
    };
    ContactCard {
        name,
        phones: list("phones", "phone"),
        emails: list("emails", "email"),
        organization: text(c, "/org/company"),
        raw: Some(c.to_string()),
    }
}

/// The content of one message, by type.
fn parts(raw: &Value, kind: &str) -> Result<Vec<ContentPart>, String> {
    let body = raw.get(kind).unwrap_or(&Value::Null);
    let need = |what: &str| format!("a `{kind}` message without `{what}`");
    Ok(match kind {
        "text" => vec![ContentPart::Text(text(body, "/body").ok_or_else(|| need("text.body"))?)],
        "image" => vec![ContentPart::Media(media(body, MediaKind::Image))],
        "video" => vec![ContentPart::Media(media(body, MediaKind::Video))],
        "document" => vec![ContentPart::Media(media(body, MediaKind::Document))],
        "sticker" => vec![ContentPart::Media(media(body, MediaKind::Sticker))],
        "audio" => {
            let voice = body.get("voice").and_then(Value::as_bool).unwrap_or(false);
            vec![ContentPart::Media(media(body, if voice { MediaKind::Voice } else { MediaKind::Audio }))]
        }
        "location" => vec![ContentPart::Location(Location {
            latitude: body.get("latitude").and_then(Value::as_f64).ok_or_else(|| need("location.latitude"))?,
            longitude: body.get("longitude").and_then(Value::as_f64).ok_or_else(|| need("location.longitude"))?,
            name: text(body, "/name"),
            address: text(body, "/address"),
            url: text(body, "/url"),
        })],
        "contacts" => {
            let cards = body.as_array().ok_or_else(|| need("contacts list"))?;
            vec![ContentPart::Contacts(cards.iter().map(contact_card).collect())]
        }
        "interactive" => {
            let sub = text(body, "/type").unwrap_or_default();
            match sub.as_str() {
                "button_reply" => vec![ContentPart::InteractiveReply(InteractiveReply {
                    kind: ReplyKind::Button,
                    id: text(body, "/button_reply/id").ok_or_else(|| need("button_reply.id"))?,
                    title: text(body, "/button_reply/title").unwrap_or_default(),
                    description: None,
                })],
                "list_reply" => vec![ContentPart::InteractiveReply(InteractiveReply {
                    kind: ReplyKind::ListRow,
                    id: text(body, "/list_reply/id").ok_or_else(|| need("list_reply.id"))?,
                    title: text(body, "/list_reply/title").unwrap_or_default(),
                    description: text(body, "/list_reply/description"),
                })],
                // Flows (nfm_reply) and future kinds: kept whole.
                other => vec![unsupported(&format!("interactive.{other}"), "this interactive reply type is not translated", body)],
            }
        }
        "button" => vec![ContentPart::InteractiveReply(InteractiveReply {
            kind: ReplyKind::TemplateButton,
            id: text(body, "/payload").unwrap_or_default(),
            title: text(body, "/text").unwrap_or_default(),
            description: None,
        })],
        "unsupported" | "unknown" => {
            let reason = json::at(raw, "/errors/0/error_data/details")
                .or_else(|| json::at(raw, "/errors/0/title"))
                .and_then(Value::as_str)
                .unwrap_or("WhatsApp did not deliver this message's content")
                .to_string();
            vec![unsupported(kind, &reason, raw)]
        }
        // order, system, request_welcome, and whatever Meta adds next: kept, never dropped.
        other => vec![unsupported(other, "this message type is not translated by the connector", raw)],
    })
}

fn message(raw: &Value, business: Option<String>, name_of: &dyn Fn(&str) -> Option<String>) -> Result<Event, String> {
    let id = text(raw, "/id").ok_or("a message without `id`")?;
    let from = text(raw, "/from").ok_or("a message without `from`")?;
    let kind = text(raw, "/type").unwrap_or_else(|| "unknown".into());
    let contact = participant(&from, name_of(&from));
    let timestamp_ms = millis(raw, "/timestamp");
    if kind == "reaction" {
        let target = text(raw, "/reaction/message_id").ok_or("a reaction without `message_id`")?;
        let emoji = text(raw, "/reaction/emoji").filter(|e| !e.is_empty());
        return Ok(Event::Reaction(Reaction {
            provider_event_id: Some(id),
            direction: Direction::Inbound,
            contact,
            target_message_id: target,
            emoji,
            timestamp_ms,
        }));
    }
    let mut metadata = Vec::new();
    if json::at(raw, "/context/forwarded").and_then(Value::as_bool) == Some(true) {
        metadata.push(("forwarded".to_string(), "true".to_string()));
    }
    if let Some(product) = json::at(raw, "/context/referred_product") {
        metadata.push(("referred-product".to_string(), product.to_string()));
    }
    let referral = raw.get("referral").map(|r| Referral {
        source_type: text(r, "/source_type"),
        source_id: text(r, "/source_id"),
        source_url: text(r, "/source_url"),
        headline: text(r, "/headline"),
        body: text(r, "/body"),
    });
    if let Some(clid) = json::at(raw, "/referral/ctwa_clid").and_then(Value::as_str) {
        metadata.push(("ctwa-clid".to_string(), clid.to_string()));
    }
    Ok(Event::Message(Message {
        provider_message_id: id,
        direction: Direction::Inbound,
        contact,
        business_id: business,
        timestamp_ms,
        parts: parts(raw, &kind)?,
        reply_to: text(raw, "/context/id"),
        referral,
        segments: None,
        metadata,
    }))
}

/// A message that could not be read: kept as unsupported with its raw JSON.
fn broken(raw: &Value, business: Option<String>, why: &str) -> Event {
    let id = text(raw, "/id").unwrap_or_else(|| {
        let digest = switchboard_sdk::signature::hmac_sha256(b"whatsapp-unparsed", raw.to_string().as_bytes());
        format!("unparsed-{}", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>())
    });
    let from = text(raw, "/from").unwrap_or_else(|| "unknown".into());
    Event::Message(Message {
        provider_message_id: id,
        direction: Direction::Inbound,
        contact: participant(&from, None),
        business_id: business,
        timestamp_ms: None,
        parts: vec![unsupported(&text(raw, "/type").unwrap_or_else(|| "unknown".into()), why, raw)],
        reply_to: None,
        referral: None,
        segments: None,
        metadata: Vec::new(),
    })
}

fn status(raw: &Value) -> Option<Event> {
    let id = text(raw, "/id")?;
    let state = match raw.get("status").and_then(Value::as_str)? {
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "failed" => DeliveryState::Failed,
        // `deleted`, `warning` and future values carry no delivery progress.
        _ => return None,
    };
    let failure = json::at(raw, "/errors/0").map(|e| {
        let code = e.get("code").and_then(Value::as_i64).unwrap_or(0);
        DeliveryFailure {
            category: errors::category(code, 400),
            error: ProviderError {
                code: code.to_string(),
                title: text(e, "/title").or_else(|| text(e, "/message")).unwrap_or_default(),
                detail: text(e, "/error_data/details"),
            },
        }
    });
    let recipient = text(raw, "/recipient_id");
    Some(Event::Status(DeliveryStatus {
        provider_message_id: id,
        state,
        contact: recipient.map(|r| participant(&r, None)),
        timestamp_ms: millis(raw, "/timestamp"),
        failure,
        segments: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_body_of_another_shape_is_refused_with_what_is_wrong() {
        for (body, needle) in [
            (&br#"{"entry":[{"changes":{"field":"messages"}}]}"#[..], "invalid type: map, expected a sequence"),
            (b"{\"object\":\"whatsapp_business_account\"}", "no `entry` list"),
            (b"not json", "not a WhatsApp webhook"),
        ] {
            let refused = parse(body).unwrap_err();
            assert_eq!(refused.status, 400);
            assert!(refused.reason.contains(needle), "{}", refused.reason);
        }
    }

    #[test]
    fn other_fields_and_unknown_keys_are_passed_over() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":5,"changes":[
            {"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}},
            {"field":"messages","value":{"messaging_product":"whatsapp","new_key":[1,2],
              "metadata":{"display_phone_number":"1","phone_number_id":"pn"},
              "contacts":[{"profile":{"name":"Ann"},"wa_id":"15550001"}],
              "messages":[{"from":"15550001","id":"wamid.1","timestamp":"1","type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let events = parse(body).unwrap();
        assert_eq!(events.len(), 1);
        let switchboard_sdk::types::Event::Message(m) = &events[0] else { panic!("a message") };
        assert_eq!((m.provider_message_id.as_str(), m.business_id.as_deref()), ("wamid.1", Some("pn")));
        assert_eq!(m.contact.display_name.as_deref(), Some("Ann"));
    }
}
