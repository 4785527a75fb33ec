//! The WhatsApp Business Cloud API connector.
//!
//! - Webhooks: the `GET` verification handshake, `X-Hub-Signature-256` over the raw body, and
//!   every documented message type, status and error (see [`inbound`]).
//! - Sending: text, media (by link or by upload), templates, interactive buttons and lists,
//!   reactions and replies; mark-as-read and the typing indicator (see [`outbound`]).
//! - Media download by id through the Graph API.
//!
//! Policy (the 24-hour window, consent, retries) stays in the host: this connector declares the
//! window in its capabilities and translates.

pub mod errors;
pub mod inbound;
pub mod outbound;

use switchboard_sdk::prelude::*;

/// The connector.
pub struct WhatsApp;

/// Graph API base URL when the operator sets none.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
/// Graph API version when the operator sets none.
pub const DEFAULT_GRAPH_VERSION: &str = "v21.0";
/// Where Meta serves media bytes.
pub const MEDIA_HOST: &str = "lookaside.fbsbx.com";

fn setting(key: &str, description: &str, secret: bool, required: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec {
        key: key.into(),
        description: description.into(),
        secret,
        required,
        default_value: default.map(str::to_string),
    }
}

/// The connector's description (also used by native tests).
pub fn info() -> ConnectorInfo {
    ConnectorInfo {
        id: "whatsapp".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: "WhatsApp Business (Cloud API)".into(),
        kind: ChannelKind::Whatsapp,
        capabilities: Capabilities {
            reply_window_seconds: Some(24 * 3600),
            human_agent_window_seconds: None,
            max_text_length: Some(4096),
            attachment_kinds: vec![
                MediaKind::Image,
                MediaKind::Audio,
                MediaKind::Voice,
                MediaKind::Video,
                MediaKind::Document,
                MediaKind::Sticker,
            ],
            templates: true,
            interactive: true,
            reactions: true,
            replies: true,
            typing: true,
            read_receipts: true,
            comments: false,
            calls: false,
        },
        settings: vec![
            setting("app-secret", "The Meta app's App Secret; webhooks are signed with it (X-Hub-Signature-256).", true, true, None),
            setting("verify-token", "The Verify Token typed into the app dashboard's webhook settings.", true, true, None),
            setting("access-token", "A system-user access token with whatsapp_business_messaging permission.", true, true, None),
            setting("phone-number-id", "The business phone number's id (WhatsApp Manager > API Setup).", false, true, None),
            setting("graph-api-base-url", "The Graph API base URL.", false, false, Some(DEFAULT_GRAPH_URL)),
            setting("graph-api-version", "The Graph API version, e.g. v21.0.", false, false, Some(DEFAULT_GRAPH_VERSION)),
        ],
        egress: vec![EgressRule::HostOfSetting("graph-api-base-url".into()), EgressRule::Host(MEDIA_HOST.into())],
    }
}

impl Connector for WhatsApp {
    fn describe() -> ConnectorInfo {
        info()
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        inbound::handle(request)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        outbound::send(message)
    }

    fn act(action: Action) -> Result<ActionReceipt, SendError> {
        outbound::act(action)
    }

    fn fetch_media(media: Media) -> Result<FetchedMedia, SendError> {
        outbound::fetch_media(media)
    }
}

#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_connector!(WhatsApp);
