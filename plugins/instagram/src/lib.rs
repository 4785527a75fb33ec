//! The Instagram connector: direct messages and comments on the business's media.
//!
//! - Direct messages (`object = instagram`, `entry[].messaging[]`): text; attachments (image,
//!   video, audio, file, share, story mention, reels); story replies; replies to a message;
//!   reactions and unreactions; postbacks and quick replies; unsend (deleted); seen (read); and
//!   echoes of the business's own messages, recorded as outbound.
//! - Comments and mentions (`entry[].changes[]`, fields `comments`, `live_comments`, `mentions`),
//!   with a private reply into direct messages.
//! - Sending text and attachments, the `HUMAN_AGENT` tag when the host asks for it, reactions,
//!   replies, typing and mark-seen.

pub mod inbound;
pub mod outbound;

use switchboard_sdk::prelude::*;

/// The connector.
pub struct Instagram;

/// Graph API base URL when the operator sets none.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
/// Graph API version when the operator sets none.
pub const DEFAULT_GRAPH_VERSION: &str = "v21.0";

fn setting(key: &str, description: &str, secret: bool, required: bool, default: Option<&str>) -> SettingSpec {
    SettingSpec { key: key.into(), description: description.into(), secret, required, default_value: default.map(str::to_string) }
}

/// The connector's description.
pub fn info() -> ConnectorInfo {
    ConnectorInfo {
        id: "instagram".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: "Instagram (messaging and comments)".into(),
        kind: ChannelKind::Instagram,
        capabilities: Capabilities {
            reply_window_seconds: Some(24 * 3600),
            human_agent_window_seconds: Some(7 * 24 * 3600),
            max_text_length: Some(1000),
            attachment_kinds: vec![MediaKind::Image, MediaKind::Video, MediaKind::Audio, MediaKind::File],
            templates: false,
            interactive: false,
            reactions: true,
            replies: true,
            typing: true,
            read_receipts: true,
            comments: true,
            calls: false,
        },
        settings: vec![
            setting("app-secret", "The Meta app's App Secret; webhooks are signed with it (X-Hub-Signature-256).", true, true, None),
            setting("verify-token", "The Verify Token typed into the app dashboard's webhook settings.", true, true, None),
            setting("access-token", "An access token with instagram_manage_messages and instagram_manage_comments.", true, true, None),
            setting("instagram-account-id", "The Instagram professional account id (or its Facebook Page id).", false, true, None),
            setting("graph-api-base-url", "The Graph API base URL.", false, false, Some(DEFAULT_GRAPH_URL)),
            setting("graph-api-version", "The Graph API version, e.g. v21.0.", false, false, Some(DEFAULT_GRAPH_VERSION)),
        ],
        egress: vec![
            EgressRule::HostOfSetting("graph-api-base-url".into()),
            EgressRule::Host("lookaside.fbsbx.com".into()),
            EgressRule::Host("*.cdninstagram.com".into()),
            EgressRule::Host("*.fbcdn.net".into()),
        ],
    }
}

impl Connector for Instagram {
    fn describe() -> ConnectorInfo {
        info()
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        meta_graph::handle(request, inbound::parse)
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        outbound::send(message)
    }

    fn act(action: Action) -> Result<ActionReceipt, SendError> {
        outbound::act(action)
    }
}

#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_connector!(Instagram);
