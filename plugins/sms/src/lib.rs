//! The SMS connector (Twilio-style Messages API).
//!
//! - Inbound SMS and MMS (`MessageSid`, `From`, `To`, `Body`, `NumMedia`, `MediaUrlN`,
//!   `MediaContentTypeN`), signed with `X-Twilio-Signature`.
//! - Status callbacks (queued, sent, delivered, undelivered, failed, with `ErrorCode`).
//! - Opt-out (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, OPTOUT, REVOKE), opt-in (START, YES,
//!   UNSTOP) and help (HELP, INFO) keywords become consent events.
//! - Sending through the Messages API, with the segment count (GSM-7 or UCS-2).

pub mod segments;

use switchboard_sdk::prelude::*;
use twilio_common::{Api, e164, empty_twiml, verified_form};

/// The connector.
pub struct Sms;

/// The connector's description.
pub fn info() -> ConnectorInfo {
    let mut settings = twilio_common::common_settings();
    settings.push(SettingSpec {
        key: "phone-number".into(),
        description: "The number messages are sent from, in E.164 (+15551234567).".into(),
        secret: false,
        required: false,
        default_value: None,
    });
    settings.push(SettingSpec {
        key: "messaging-service-sid".into(),
        description: "A Messaging Service SID (MG...) to send from instead of phone-number.".into(),
        secret: false,
        required: false,
        default_value: None,
    });
    ConnectorInfo {
        id: "sms".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: "SMS and MMS (Twilio-style)".into(),
        kind: ChannelKind::Sms,
        capabilities: Capabilities {
            max_text_length: Some(1600),
            attachment_kinds: vec![MediaKind::Image, MediaKind::Video, MediaKind::Audio, MediaKind::Document],
            ..Capabilities::none()
        },
        settings,
        egress: vec![EgressRule::HostOfSetting("api-base-url".into()), EgressRule::Host("*.twiliocdn.com".into())],
    }
}

/// What a keyword asks for, if the whole message is one.
pub fn keyword(body: &str) -> Option<ConsentAction> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "OPTOUT" | "REVOKE" => Some(ConsentAction::OptOut),
        "START" | "YES" | "UNSTOP" => Some(ConsentAction::OptIn),
        "HELP" | "INFO" => Some(ConsentAction::Help),
        _ => None,
    }
}

fn person(number: &str) -> Participant {
    Participant { id: number.to_string(), display_name: None, phone: e164(number) }
}

fn media_kind(content_type: &str) -> MediaKind {
    match content_type.split('/').next().unwrap_or("") {
        "image" => MediaKind::Image,
        "video" => MediaKind::Video,
        "audio" => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

fn status_event(form: &switchboard_sdk::form::Form, sid: &str, status: &str) -> Option<Event> {
    let state = match status {
        "accepted" | "queued" | "scheduled" | "sending" => DeliveryState::Queued,
        "sent" => DeliveryState::Sent,
        "delivered" => DeliveryState::Delivered,
        "read" => DeliveryState::Read,
        "undelivered" | "failed" | "canceled" => DeliveryState::Failed,
        other => {
            // A status added after this connector: acknowledged, so the provider does not retry.
            host::warn(&format!("ignoring unknown MessageStatus `{other}` for {sid}"));
            return None;
        }
    };
    let failure = (state == DeliveryState::Failed).then(|| {
        let code = form.get("ErrorCode").unwrap_or("").to_string();
        let numeric = code.parse::<i64>().unwrap_or(0);
        DeliveryFailure {
            category: if numeric == 21610 { FailureCategory::OptedOut } else { FailureCategory::Rejected },
            error: ProviderError {
                title: form.get("ErrorMessage").map(str::to_string).unwrap_or_else(|| format!("the message was {status}")),
                code,
                detail: None,
            },
        }
    });
    Some(Event::Status(DeliveryStatus {
        provider_message_id: sid.to_string(),
        state,
        contact: form.get("To").map(person),
        timestamp_ms: None,
        failure,
        segments: form.get("NumSegments").and_then(|n| n.parse().ok()),
    }))
}

impl Connector for Sms {
    fn describe() -> ConnectorInfo {
        info()
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        let form = verified_form(&request)?;
        let sid = form.get("MessageSid").or_else(|| form.get("SmsSid")).ok_or_else(|| reject(400, "the required parameter `MessageSid` is missing"))?.to_string();
        // Status callbacks carry MessageStatus without a Body.
        if let Some(status) = form.get("MessageStatus").filter(|s| *s != "received") {
            return Ok(empty_twiml(status_event(&form, &sid, status).into_iter().collect()));
        }
        let from = form.require("From").map_err(|e| reject(400, &e))?.to_string();
        let to = form.require("To").map_err(|e| reject(400, &e))?.to_string();
        let body = form.get("Body").unwrap_or("").to_string();
        let mut parts = Vec::new();
        if !body.is_empty() {
            parts.push(ContentPart::Text(body.clone()));
        }
        let media_count: usize = form.get("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);
        for i in 0..media_count.min(10) {
            let Some(url) = form.get(&format!("MediaUrl{i}")) else { continue };
            let content_type = form.get(&format!("MediaContentType{i}")).map(str::to_string);
            parts.push(ContentPart::Media(Media {
                kind: media_kind(content_type.as_deref().unwrap_or("")),
                provider_media_id: None,
                url: Some(url.to_string()),
                mime_type: content_type,
                filename: None,
                caption: None,
                sha256: None,
                size_bytes: None,
            }));
        }
        if parts.is_empty() {
            parts.push(ContentPart::Text(String::new()));
        }
        let segments = form.get("NumSegments").and_then(|n| n.parse().ok()).unwrap_or_else(|| segments::count(&body).1);
        let mut events = vec![Event::Message(Message {
            provider_message_id: sid.clone(),
            direction: Direction::Inbound,
            contact: person(&from),
            business_id: Some(to),
            timestamp_ms: None,
            parts,
            reply_to: None,
            referral: None,
            segments: Some(segments),
            metadata: [("from-country", "FromCountry"), ("from-city", "FromCity")]
                .iter()
                .filter_map(|(k, p)| form.get(p).map(|v| (k.to_string(), v.to_string())))
                .collect(),
        })];
        if let Some(action) = keyword(&body) {
            events.push(Event::Consent(ConsentChange {
                contact: person(&from),
                action,
                keyword: body.trim().to_string(),
                provider_message_id: Some(sid),
                timestamp_ms: None,
            }));
        }
        Ok(empty_twiml(events))
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let api = Api::from_settings()?;
        let (body, media_url) = match &message.content {
            OutboundContent::Text(text) => (text.clone(), None),
            OutboundContent::Media(m) => {
                let url = m.url.clone().ok_or_else(|| SendError::Rejected(provider_error("media-by-url", "MMS sends media by URL: give the media a public URL")))?;
                (m.caption.clone().unwrap_or_default(), Some(url))
            }
            _ => return Err(SendError::Rejected(provider_error("unsupported-content", "SMS sends text and MMS media only"))),
        };
        let callback = host::webhook_url();
        let mut fields: Vec<(&str, &str)> = vec![("To", &message.to), ("Body", &body), ("StatusCallback", &callback)];
        let from = host::setting("phone-number").filter(|v| !v.is_empty());
        let service = host::setting("messaging-service-sid").filter(|v| !v.is_empty());
        match (&service, &from) {
            (Some(s), _) => fields.push(("MessagingServiceSid", s)),
            (None, Some(f)) => fields.push(("From", f)),
            (None, None) => {
                return Err(SendError::Auth(provider_error("missing-setting", "set the channel's phone-number or messaging-service-sid")));
            }
        }
        if let Some(url) = &media_url {
            fields.push(("MediaUrl", url));
        }
        let answer = api.post_form("Messages.json", &fields)?;
        let sid = answer.get("sid").and_then(|s| s.as_str()).ok_or_else(|| SendError::Transient(provider_error("bad-response", "the answer had no sid")))?;
        let segments = answer
            .get("num_segments")
            .and_then(|n| n.as_str().and_then(|s| s.parse().ok()).or_else(|| n.as_u64().map(|v| v as u32)))
            .unwrap_or_else(|| segments::count(&body).1);
        Ok(SendReceipt { provider_message_id: sid.to_string(), segments: Some(segments) })
    }

    fn fetch_media(media: Media) -> Result<FetchedMedia, SendError> {
        twilio_common::fetch_media(media)
    }
}

#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_connector!(Sms);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        for k in ["STOP", "stopall", " Unsubscribe ", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"] {
            assert_eq!(keyword(k), Some(ConsentAction::OptOut), "{k}");
        }
        for k in ["START", "yes", "UNSTOP"] {
            assert_eq!(keyword(k), Some(ConsentAction::OptIn), "{k}");
        }
        assert_eq!(keyword("help"), Some(ConsentAction::Help));
        assert_eq!(keyword("INFO"), Some(ConsentAction::Help));
        assert_eq!(keyword("please stop"), None);
    }
}
