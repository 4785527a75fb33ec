//! An example channel connector, written on `switchboard-sdk`.
//!
//! The "provider" is any system that can post JSON webhooks signed with HMAC-SHA256 and accept
//! messages on a small JSON API. It is the template to copy for a new channel; see this folder's
//! README for the walk from `cargo new` to a loaded connector receiving messages.
//!
//! Inbound: `POST` with `X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` and a body
//! `{"events": [ ... ]}` where each event is a `message` or a `status` (see [`WireEvent`]).
//!
//! Outbound: `POST {api-base-url}/messages` with `Authorization: Bearer {api-token}` and
//! `{"to", "text", "reference"}`; the provider answers `{"id": "..."}`.

use serde::Deserialize;
use switchboard_sdk::http::Request;
use switchboard_sdk::prelude::*;
use switchboard_sdk::signature::verify_hmac_sha256_hex;

/// The connector. It has no state: every call gets a fresh instance.
struct SignedWebhook;

/// The webhook body.
#[derive(Deserialize)]
struct Envelope {
    events: Vec<serde_json::Value>,
}

/// One event in the webhook body.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    /// A customer wrote.
    Message {
        id: String,
        from: WireContact,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        timestamp: Option<u64>,
        #[serde(default)]
        reply_to: Option<String>,
    },
    /// A message the business sent changed state.
    Status {
        message_id: String,
        state: String,
        #[serde(default)]
        error: Option<WireError>,
    },
}

#[derive(Deserialize)]
struct WireContact {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

#[derive(Deserialize)]
struct WireError {
    code: String,
    title: String,
}

fn translate(raw: serde_json::Value) -> Event {
    let kept = raw.to_string();
    match serde_json::from_value::<WireEvent>(raw) {
        Ok(WireEvent::Message { id, from, text, timestamp, reply_to }) => Event::Message(Message {
            provider_message_id: id,
            direction: Direction::Inbound,
            contact: Participant { id: from.id, display_name: from.name, phone: from.phone },
            business_id: None,
            timestamp_ms: timestamp,
            parts: vec![ContentPart::Text(text.unwrap_or_default())],
            reply_to,
            referral: None,
            segments: None,
            metadata: Vec::new(),
        }),
        Ok(WireEvent::Status { message_id, state, error }) => {
            let state = match state.as_str() {
                "sent" => DeliveryState::Sent,
                "delivered" => DeliveryState::Delivered,
                "read" => DeliveryState::Read,
                "failed" => DeliveryState::Failed,
                _ => DeliveryState::Queued,
            };
            Event::Status(DeliveryStatus {
                provider_message_id: message_id,
                state,
                contact: None,
                timestamp_ms: None,
                failure: error.map(|e| DeliveryFailure {
                    category: FailureCategory::Rejected,
                    error: provider_error(&e.code, &e.title),
                }),
                segments: None,
            })
        }
        // Never drop what we cannot read: keep it as an unsupported message for the operator.
        Err(e) => Event::Message(Message {
            provider_message_id: format!("unparsed-{}", short_hash(&kept)),
            direction: Direction::Inbound,
            contact: Participant { id: "unknown".into(), display_name: None, phone: None },
            business_id: None,
            timestamp_ms: None,
            parts: vec![ContentPart::Unsupported(UnsupportedContent {
                type_name: "unknown".into(),
                reason: e.to_string(),
                raw: kept,
            })],
            reply_to: None,
            referral: None,
            segments: None,
            metadata: Vec::new(),
        }),
    }
}

/// A stable id for content without one, so a redelivery maps to the same message.
fn short_hash(text: &str) -> String {
    let digest = switchboard_sdk::signature::hmac_sha256(b"signed-webhook", text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Connector for SignedWebhook {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            id: "signed-webhook".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "Signed JSON webhook (example)".into(),
            kind: ChannelKind::Other,
            capabilities: Capabilities {
                max_text_length: Some(4096),
                replies: true,
                ..Capabilities::none()
            },
            settings: vec![
                SettingSpec {
                    key: "signing-secret".into(),
                    description: "The shared secret the provider signs webhooks with (HMAC-SHA256).".into(),
                    secret: true,
                    required: true,
                    default_value: None,
                },
                SettingSpec {
                    key: "api-token".into(),
                    description: "The bearer token for the provider's send API.".into(),
                    secret: true,
                    required: true,
                    default_value: None,
                },
                SettingSpec {
                    key: "api-base-url".into(),
                    description: "The provider's API base URL; messages go to {api-base-url}/messages.".into(),
                    secret: false,
                    required: true,
                    default_value: None,
                },
            ],
            egress: vec![EgressRule::HostOfSetting("api-base-url".into())],
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        if request.method != "POST" {
            return Err(reject(405, "this webhook accepts POST only"));
        }
        let secret = host::setting("signing-secret")
            .ok_or_else(|| reject(500, "the channel has no `signing-secret` setting"))?;
        verify_hmac_sha256_hex(secret.as_bytes(), &request.body, request.header("x-signature-256"), "sha256=")
            .map_err(|e| reject(401, &format!("X-Signature-256: {e}")))?;
        let envelope: Envelope = request.json()?;
        let events = envelope.events.into_iter().map(translate).collect();
        Ok(respond(200, "application/json", br#"{"ok":true}"#.to_vec(), events))
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        let OutboundContent::Text(text) = message.content else {
            return Err(SendError::Rejected(provider_error("unsupported-content", "this channel sends text only")));
        };
        let base = require_setting("api-base-url")?;
        let token = require_setting("api-token")?;
        let body = serde_json::json!({
            "to": message.to,
            "text": text,
            "reply_to": message.reply_to,
            "reference": message.message_id,
        });
        let response = Request::post(&format!("{}/messages", base.trim_end_matches('/')))
            .bearer(&token)
            .json(&body)
            .send()
            .map_err(switchboard_sdk::errors::from_http_error)?;
        if !response.is_success() {
            return Err(classify_http_failure(&response));
        }
        #[derive(Deserialize)]
        struct Accepted {
            id: String,
        }
        let accepted: Accepted = response.json().map_err(|e| {
            SendError::Transient(provider_error("bad-response", &format!("the provider's answer was not {{\"id\"}}: {e}")))
        })?;
        Ok(SendReceipt { provider_message_id: accepted.id, segments: None })
    }
}

switchboard_sdk::export_connector!(SignedWebhook);
