//! Instagram webhooks: messaging events and comment changes.

use serde_json::Value;
use switchboard_sdk::json;
use switchboard_sdk::prelude::*;

fn text(v: &Value, pointer: &str) -> Option<String> {
    json::at(v, pointer).and_then(Value::as_str).map(str::to_string)
}

fn id_of(v: &Value, pointer: &str) -> Option<String> {
    let x = json::at(v, pointer)?;
    x.as_str().map(str::to_string).or_else(|| x.as_u64().map(|n| n.to_string()))
}

fn person(id: String, name: Option<String>) -> Participant {
    Participant { id, display_name: name, phone: None }
}

/// Parse a webhook body into events.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, WebhookRejection> {
    let root: Value = serde_json::from_slice(body).map_err(|e| reject(400, &format!("the body is not valid JSON: {e}")))?;
    let Some(entries) = root.get("entry").and_then(Value::as_array) else {
        return Err(reject(400, "the body has no `entry` list; is this an Instagram webhook?"));
    };
    let mut events = Vec::new();
    for entry in entries {
        let account = id_of(entry, "/id").unwrap_or_default();
        for raw in entry.get("messaging").and_then(Value::as_array).into_iter().flatten() {
            match messaging(raw, &account) {
                Ok(mut found) => events.append(&mut found),
                Err(why) => events.push(broken(raw, &account, &why)),
            }
        }
        for change in entry.get("changes").and_then(Value::as_array).into_iter().flatten() {
            if let Some(event) = comment(change) {
                events.push(event);
            }
        }
    }
    Ok(events)
}

fn attachment(a: &Value) -> ContentPart {
    let kind = text(a, "/type").unwrap_or_default();
    let url = text(a, "/payload/url");
    let media = |k: MediaKind| {
        ContentPart::Media(Media { kind: k, provider_media_id: None, url: url.clone(), mime_type: None, filename: None, caption: None, sha256: None, size_bytes: None })
    };
    match kind.as_str() {
        "image" => media(MediaKind::Image),
        "video" => media(MediaKind::Video),
        "audio" => media(MediaKind::Audio),
        "file" => media(MediaKind::File),
        "story_mention" => ContentPart::Story(StoryRef { kind: StoryKind::Mention, id: text(a, "/payload/id"), url }),
        "share" | "ig_reel" | "reel" | "ig_post" | "link" => match url {
            Some(url) => ContentPart::SharedLink(SharedLink { url, title: text(a, "/payload/title") }),
            None => ContentPart::Unsupported(UnsupportedContent { type_name: kind, reason: "a share without a URL".into(), raw: a.to_string() }),
        },
        other => ContentPart::Unsupported(UnsupportedContent {
            type_name: other.to_string(),
            reason: "this attachment type is not translated".into(),
            raw: a.to_string(),
        }),
    }
}

/// One `messaging` item: a message, echo, unsend, reaction, postback or read.
fn messaging(raw: &Value, account: &str) -> Result<Vec<Event>, String> {
    let sender = id_of(raw, "/sender/id").ok_or("a messaging event without `sender.id`")?;
    let recipient = id_of(raw, "/recipient/id").unwrap_or_default();
    let timestamp = raw.get("timestamp").and_then(Value::as_u64);
    // The customer is whoever is not the business account.
    let from_business = sender == account;
    let customer = if from_business { recipient.clone() } else { sender.clone() };
    let direction = if from_business { Direction::Outbound } else { Direction::Inbound };

    if let Some(m) = raw.get("message") {
        let mid = text(m, "/mid").ok_or("a message without `mid`")?;
        if m.get("is_deleted").and_then(Value::as_bool) == Some(true) {
            return Ok(vec![Event::MessageDeleted(MessageDeleted { provider_message_id: mid, contact: person(customer, None) })]);
        }
        let echo = m.get("is_echo").and_then(Value::as_bool) == Some(true);
        let direction = if echo { Direction::Outbound } else { direction };
        let mut parts = Vec::new();
        if let Some(story) = json::at(m, "/reply_to/story") {
            parts.push(ContentPart::Story(StoryRef { kind: StoryKind::Reply, id: text(story, "/id"), url: text(story, "/url") }));
        }
        if let Some(t) = text(m, "/text") {
            parts.push(ContentPart::Text(t));
        }
        for a in m.get("attachments").and_then(Value::as_array).into_iter().flatten() {
            parts.push(attachment(a));
        }
        if let Some(payload) = text(m, "/quick_reply/payload") {
            parts.push(ContentPart::InteractiveReply(InteractiveReply {
                kind: ReplyKind::QuickReply,
                id: payload,
                title: text(m, "/text").unwrap_or_default(),
                description: None,
            }));
        }
        if m.get("is_unsupported").and_then(Value::as_bool) == Some(true) || parts.is_empty() {
            parts.push(ContentPart::Unsupported(UnsupportedContent {
                type_name: "unsupported".into(),
                reason: "Instagram did not deliver this message's content".into(),
                raw: m.to_string(),
            }));
        }
        let referral = raw.get("referral").or_else(|| m.get("referral")).map(|r| Referral {
            source_type: text(r, "/type").or_else(|| text(r, "/source")),
            source_id: text(r, "/ad_id").or_else(|| text(r, "/ref")),
            source_url: text(r, "/ads_context_data/photo_url"),
            headline: text(r, "/ads_context_data/ad_title"),
            body: None,
        });
        return Ok(vec![Event::Message(Message {
            provider_message_id: mid,
            direction,
            contact: person(customer, None),
            business_id: Some(account.to_string()),
            timestamp_ms: timestamp,
            parts,
            reply_to: text(m, "/reply_to/mid"),
            referral,
            segments: None,
            metadata: Vec::new(),
        })]);
    }
    if let Some(r) = raw.get("reaction") {
        let target = text(r, "/mid").ok_or("a reaction without `mid`")?;
        let emoji = match text(r, "/action").as_deref() {
            Some("unreact") => None,
            _ => text(r, "/emoji").or_else(|| text(r, "/reaction")),
        };
        return Ok(vec![Event::Reaction(Reaction {
            provider_event_id: None,
            direction,
            contact: person(customer, None),
            target_message_id: target,
            emoji,
            timestamp_ms: timestamp,
        })]);
    }
    if let Some(p) = raw.get("postback") {
        let mid = text(p, "/mid").unwrap_or_else(|| format!("postback-{sender}-{}", timestamp.unwrap_or(0)));
        return Ok(vec![Event::Message(Message {
            provider_message_id: mid,
            direction: Direction::Inbound,
            contact: person(customer, None),
            business_id: Some(account.to_string()),
            timestamp_ms: timestamp,
            parts: vec![ContentPart::InteractiveReply(InteractiveReply {
                kind: ReplyKind::Postback,
                id: text(p, "/payload").unwrap_or_default(),
                title: text(p, "/title").unwrap_or_default(),
                description: None,
            })],
            reply_to: None,
            referral: None,
            segments: None,
            metadata: Vec::new(),
        })]);
    }
    if let Some(read) = raw.get("read") {
        // The customer saw the business's message.
        let Some(mid) = text(read, "/mid") else { return Ok(Vec::new()) };
        return Ok(vec![Event::Status(DeliveryStatus {
            provider_message_id: mid,
            state: DeliveryState::Read,
            contact: Some(person(customer, None)),
            timestamp_ms: timestamp,
            failure: None,
            segments: None,
        })]);
    }
    // Referral-only, message edits and future event kinds carry no conversation content.
    Ok(Vec::new())
}

fn broken(raw: &Value, account: &str, why: &str) -> Event {
    let digest = switchboard_sdk::signature::hmac_sha256(b"instagram-unparsed", raw.to_string().as_bytes());
    let id = text(raw, "/message/mid").unwrap_or_else(|| format!("unparsed-{}", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>()));
    Event::Message(Message {
        provider_message_id: id,
        direction: Direction::Inbound,
        contact: person(id_of(raw, "/sender/id").unwrap_or_else(|| "unknown".into()), None),
        business_id: Some(account.to_string()),
        timestamp_ms: None,
        parts: vec![ContentPart::Unsupported(UnsupportedContent { type_name: "messaging".into(), reason: why.into(), raw: raw.to_string() })],
        reply_to: None,
        referral: None,
        segments: None,
        metadata: Vec::new(),
    })
}

/// A comment (or mention) change.
fn comment(change: &Value) -> Option<Event> {
    let field = text(change, "/field")?;
    let value = change.get("value")?;
    match field.as_str() {
        "comments" | "live_comments" => {
            let id = id_of(value, "/id")?;
            Some(Event::Comment(Comment {
                provider_comment_id: id,
                contact: person(id_of(value, "/from/id").unwrap_or_else(|| "unknown".into()), text(value, "/from/username")),
                post_id: id_of(value, "/media/id").unwrap_or_default(),
                text: text(value, "/text").unwrap_or_default(),
                parent_comment_id: id_of(value, "/parent_id"),
                mention: false,
                timestamp_ms: None,
            }))
        }
        "mentions" => {
            let comment_id = id_of(value, "/comment_id");
            let media_id = id_of(value, "/media_id").unwrap_or_default();
            Some(Event::Comment(Comment {
                provider_comment_id: comment_id.clone().unwrap_or_else(|| format!("mention-{media_id}")),
                // The webhook names the media and comment, not the author.
                contact: person(format!("mention:{}", comment_id.unwrap_or_else(|| media_id.clone())), Some("Instagram mention".into())),
                post_id: media_id,
                text: String::new(),
                parent_comment_id: None,
                mention: true,
                timestamp_ms: None,
            }))
        }
        _ => None,
    }
}
