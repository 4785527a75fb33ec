//! Translating the connector contract's events into the domain's.

use crate::domain::content::{ConsentAction, ContactCard, Identity, InboundEvent, Media, Part, ProviderError, ReportedMessage, ReportedStatus};
use crate::domain::delivery::DeliveryState;
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;

fn identity(p: &wit::Participant) -> Identity {
    Identity { provider_id: p.id.clone(), display_name: p.display_name.clone(), phone: p.phone.clone() }
}

/// The WIT name of a channel kind (`whatsapp`, `live-chat`, ...).
pub fn channel_kind_name(kind: wit::ChannelKind) -> &'static str {
    use wit::ChannelKind as K;
    match kind {
        K::Whatsapp => "whatsapp",
        K::Instagram => "instagram",
        K::Messenger => "messenger",
        K::Sms => "sms",
        K::Voice => "voice",
        K::Email => "email",
        K::LiveChat => "live-chat",
        K::Telegram => "telegram",
        K::Other => "other",
    }
}

/// The WIT name of a media kind.
pub fn media_kind(kind: wit::MediaKind) -> &'static str {
    match kind {
        wit::MediaKind::Image => "image",
        wit::MediaKind::Audio => "audio",
        wit::MediaKind::Voice => "voice",
        wit::MediaKind::Video => "video",
        wit::MediaKind::Document => "document",
        wit::MediaKind::Sticker => "sticker",
        wit::MediaKind::File => "file",
    }
}

/// The contract's media kind for a domain name (`image`, ...); unknown names are files.
pub fn wit_media_kind(kind: &str) -> wit::MediaKind {
    match kind {
        "image" => wit::MediaKind::Image,
        "audio" => wit::MediaKind::Audio,
        "voice" => wit::MediaKind::Voice,
        "video" => wit::MediaKind::Video,
        "document" => wit::MediaKind::Document,
        "sticker" => wit::MediaKind::Sticker,
        _ => wit::MediaKind::File,
    }
}

/// What a send error means: its category, the provider's words, and any retry-after.
pub fn send_error_parts(e: &wit::SendError) -> (wit::FailureCategory, &wit::ProviderError, Option<u64>) {
    match e {
        wit::SendError::Rejected(x) => (wit::FailureCategory::Rejected, x, None),
        wit::SendError::RateLimited((after, x)) => (wit::FailureCategory::RateLimited, x, *after),
        wit::SendError::WindowClosed(x) => (wit::FailureCategory::WindowClosed, x, None),
        wit::SendError::OptedOut(x) => (wit::FailureCategory::OptedOut, x, None),
        wit::SendError::Auth(x) => (wit::FailureCategory::Auth, x, None),
        wit::SendError::Transient(x) => (wit::FailureCategory::Transient, x, None),
    }
}

/// A domain media item in the contract's terms (for `fetch-media`).
pub fn to_wit_media(m: &Media) -> wit::Media {
    wit::Media {
        kind: wit_media_kind(&m.kind),
        provider_media_id: m.provider_media_id.clone(),
        url: m.url.clone(),
        mime_type: m.mime_type.clone(),
        filename: m.filename.clone(),
        caption: m.caption.clone(),
        sha256: m.sha256.clone(),
        size_bytes: m.size_bytes,
    }
}

/// A media item in the domain's terms.
pub fn media(m: &wit::Media) -> Media {
    Media {
        kind: media_kind(m.kind).into(),
        provider_media_id: m.provider_media_id.clone(),
        url: m.url.clone(),
        mime_type: m.mime_type.clone(),
        filename: m.filename.clone(),
        caption: m.caption.clone(),
        sha256: m.sha256.clone(),
        size_bytes: m.size_bytes,
    }
}

fn part(p: &wit::ContentPart) -> Part {
    match p {
        wit::ContentPart::Text(text) => Part::Text { text: text.clone() },
        wit::ContentPart::Media(m) => Part::Media { media: media(m) },
        wit::ContentPart::Location(l) => Part::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name: l.name.clone(),
            address: l.address.clone(),
            url: l.url.clone(),
        },
        wit::ContentPart::Contacts(cards) => Part::Contacts {
            contacts: cards
                .iter()
                .map(|c| ContactCard {
                    name: c.name.clone(),
                    phones: c.phones.clone(),
                    emails: c.emails.clone(),
                    organization: c.organization.clone(),
                    raw: c.raw.clone(),
                })
                .collect(),
        },
        wit::ContentPart::InteractiveReply(r) => Part::InteractiveReply {
            kind: match r.kind {
                wit::ReplyKind::Button => "button",
                wit::ReplyKind::ListRow => "list_row",
                wit::ReplyKind::QuickReply => "quick_reply",
                wit::ReplyKind::Postback => "postback",
                wit::ReplyKind::TemplateButton => "template_button",
            }
            .into(),
            id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
        },
        wit::ContentPart::SharedLink(l) => Part::SharedLink { url: l.url.clone(), title: l.title.clone() },
        wit::ContentPart::Story(s) => Part::Story {
            kind: match s.kind {
                wit::StoryKind::Reply => "reply",
                wit::StoryKind::Mention => "mention",
            }
            .into(),
            id: s.id.clone(),
            url: s.url.clone(),
        },
        wit::ContentPart::Unsupported(u) => {
            Part::Unsupported { type_name: u.type_name.clone(), reason: u.reason.clone(), raw: u.raw.clone() }
        }
    }
}

/// The domain name of a failure category.
pub fn category(c: wit::FailureCategory) -> &'static str {
    match c {
        wit::FailureCategory::Rejected => "rejected",
        wit::FailureCategory::WindowClosed => "window_closed",
        wit::FailureCategory::OptedOut => "opted_out",
        wit::FailureCategory::Auth => "auth",
        wit::FailureCategory::RateLimited => "rate_limited",
        wit::FailureCategory::Transient => "transient",
    }
}

/// A provider error with its category.
pub fn provider_error(category_name: &str, e: &wit::ProviderError) -> ProviderError {
    ProviderError { category: category_name.into(), code: e.code.clone(), title: e.title.clone(), detail: e.detail.clone() }
}

fn ms(t: Option<u64>) -> Option<i64> {
    t.and_then(|v| i64::try_from(v).ok())
}

/// Translate one event.
pub fn event(e: &wit::Event) -> InboundEvent {
    match e {
        wit::Event::Message(m) => {
            let mut extra = serde_json::Map::new();
            if let Some(r) = &m.referral {
                extra.insert(
                    "referral".into(),
                    serde_json::json!({
                        "source_type": r.source_type, "source_id": r.source_id, "source_url": r.source_url,
                        "headline": r.headline, "body": r.body,
                    }),
                );
            }
            if let Some(b) = &m.business_id {
                extra.insert("business_id".into(), b.clone().into());
            }
            if !m.metadata.is_empty() {
                extra.insert("metadata".into(), m.metadata.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone()))).collect());
            }
            InboundEvent::Message(ReportedMessage {
                provider_message_id: m.provider_message_id.clone(),
                outbound: m.direction == wit::Direction::Outbound,
                contact: identity(&m.contact),
                timestamp_ms: ms(m.timestamp_ms),
                parts: m.parts.iter().map(part).collect(),
                reply_to: m.reply_to.clone(),
                segments: m.segments,
                extra: serde_json::Value::Object(extra),
            })
        }
        wit::Event::Status(s) => InboundEvent::Status(ReportedStatus {
            provider_message_id: s.provider_message_id.clone(),
            state: match s.state {
                wit::DeliveryState::Queued => DeliveryState::Queued,
                wit::DeliveryState::Sent => DeliveryState::Sent,
                wit::DeliveryState::Delivered => DeliveryState::Delivered,
                wit::DeliveryState::Read => DeliveryState::Read,
                wit::DeliveryState::Failed => DeliveryState::Failed,
            },
            error: s.failure.as_ref().map(|f| provider_error(category(f.category), &f.error)),
            timestamp_ms: ms(s.timestamp_ms),
        }),
        wit::Event::Reaction(r) => InboundEvent::Reaction {
            contact: identity(&r.contact),
            target_message_id: r.target_message_id.clone(),
            emoji: r.emoji.clone(),
            outbound: r.direction == wit::Direction::Outbound,
        },
        wit::Event::Typing(t) => InboundEvent::Typing { contact: identity(&t.contact), active: t.active },
        wit::Event::Consent(c) => InboundEvent::Consent {
            contact: identity(&c.contact),
            action: match c.action {
                wit::ConsentAction::OptOut => ConsentAction::OptOut,
                wit::ConsentAction::OptIn => ConsentAction::OptIn,
                wit::ConsentAction::Help => ConsentAction::Help,
            },
            keyword: c.keyword.clone(),
        },
        wit::Event::Comment(c) => InboundEvent::Comment {
            provider_comment_id: c.provider_comment_id.clone(),
            contact: identity(&c.contact),
            part: Part::Comment {
                text: c.text.clone(),
                post_id: c.post_id.clone(),
                parent_comment_id: c.parent_comment_id.clone(),
                mention: c.mention,
            },
            timestamp_ms: ms(c.timestamp_ms),
        },
        wit::Event::MessageDeleted(d) => {
            InboundEvent::Deleted { provider_message_id: d.provider_message_id.clone(), contact: identity(&d.contact) }
        }
        wit::Event::Call(c) => InboundEvent::Call {
            call_id: c.call_id.clone(),
            contact: identity(&c.contact),
            update: match &c.update {
                wit::CallUpdate::Status(s) => serde_json::json!({ "status": s.status, "duration_seconds": s.duration_seconds }),
                wit::CallUpdate::Input(i) => serde_json::json!({ "digits": i.digits, "speech": i.speech, "confidence": i.confidence }),
                wit::CallUpdate::Recording(m) => serde_json::json!({ "recording": media(m) }),
                wit::CallUpdate::Transcript(t) => serde_json::json!({
                    "transcript": t.text, "recording": t.recording.as_ref().map(media), "voicemail": t.voicemail,
                }),
            },
            reference: c.reference.clone(),
        },
    }
}
