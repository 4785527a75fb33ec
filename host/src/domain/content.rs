//! What messages carry, and the normalized events connectors report, in the host's own terms.
//! These are what the store keeps and the API shows; the connector contract's types are
//! translated into them at the boundary (`ingest::translate`).

use super::delivery::DeliveryState;
use serde::{Deserialize, Serialize};

/// A media item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Media {
    /// `image`, `audio`, `voice`, `video`, `document`, `sticker` or `file`.
    pub kind: String,
    /// The provider's media id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_media_id: Option<String>,
    /// A URL for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// Its file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Its caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Hex SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// A shared contact card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactCard {
    /// Formatted name.
    pub name: String,
    /// Phone numbers.
    pub phones: Vec<String>,
    /// Email addresses.
    pub emails: Vec<String>,
    /// Organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The provider's raw card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// One part of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// Media.
    Media {
        /// The media item.
        media: Media,
    },
    /// A location.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
        /// Place name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// Address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        /// Map URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Contact cards.
    Contacts {
        /// The cards.
        contacts: Vec<ContactCard>,
    },
    /// The customer picked a choice.
    InteractiveReply {
        /// `button`, `list_row`, `quick_reply`, `postback` or `template_button`.
        kind: String,
        /// The choice's id or payload.
        id: String,
        /// The choice's title.
        title: String,
        /// Its description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A shared link.
    SharedLink {
        /// URL.
        url: String,
        /// Title.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    /// A story reply or mention.
    Story {
        /// `reply` or `mention`.
        kind: String,
        /// Story id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// Story URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Content the connector could not translate, kept for operators.
    Unsupported {
        /// The provider's type name.
        type_name: String,
        /// Why it was not translated.
        reason: String,
        /// The provider's raw content.
        raw: String,
    },
    /// A template the business sent.
    Template {
        /// Template name.
        name: String,
        /// Language code.
        language: String,
        /// Parameters, as the API received them.
        #[serde(default)]
        components: serde_json::Value,
    },
    /// An interactive message the business sent.
    Interactive {
        /// The message, as the API received it.
        message: serde_json::Value,
    },
    /// A public comment on a post.
    Comment {
        /// The comment's text.
        text: String,
        /// The post it is on.
        post_id: String,
        /// The comment it answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_comment_id: Option<String>,
        /// True for a mention.
        #[serde(default)]
        mention: bool,
    },
}

/// A provider's error on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    /// `rejected`, `window_closed`, `opted_out`, `auth`, `rate_limited` or `transient`.
    pub category: String,
    /// The provider's code.
    pub code: String,
    /// The provider's title.
    pub title: String,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The customer's identity on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The provider's id.
    pub provider_id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Phone in E.164.
    pub phone: Option<String>,
}

/// A message reported by the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedMessage {
    /// Provider id.
    pub provider_message_id: String,
    /// True when the business sent it (an echo).
    pub outbound: bool,
    /// The customer.
    pub contact: Identity,
    /// When it was sent, Unix ms.
    pub timestamp_ms: Option<i64>,
    /// Content.
    pub parts: Vec<Part>,
    /// Provider id of the message it replies to.
    pub reply_to: Option<String>,
    /// SMS segments.
    pub segments: Option<u32>,
    /// Referral, metadata and other provider facts, as JSON.
    pub extra: serde_json::Value,
}

/// A delivery report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedStatus {
    /// Provider id of the message.
    pub provider_message_id: String,
    /// Reported state.
    pub state: DeliveryState,
    /// The failure, when failed.
    pub error: Option<ProviderError>,
    /// When, Unix ms.
    pub timestamp_ms: Option<i64>,
}

/// A consent change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    /// Stop messages.
    OptOut,
    /// Resume messages.
    OptIn,
    /// Asked for help.
    Help,
}

/// One normalized event from a webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A message.
    Message(ReportedMessage),
    /// A delivery report.
    Status(ReportedStatus),
    /// A reaction added (emoji) or removed (none).
    Reaction {
        /// The customer.
        contact: Identity,
        /// Provider id of the message reacted to.
        target_message_id: String,
        /// The emoji; none when removed.
        emoji: Option<String>,
        /// True when the business reacted.
        outbound: bool,
    },
    /// Typing.
    Typing {
        /// The customer.
        contact: Identity,
        /// Started (true) or stopped.
        active: bool,
    },
    /// Consent keyword.
    Consent {
        /// The customer.
        contact: Identity,
        /// What it asked for.
        action: ConsentAction,
        /// The keyword as written.
        keyword: String,
    },
    /// A public comment.
    Comment {
        /// Provider comment id.
        provider_comment_id: String,
        /// The customer.
        contact: Identity,
        /// The comment.
        part: Part,
        /// When, Unix ms.
        timestamp_ms: Option<i64>,
    },
    /// A message was withdrawn.
    Deleted {
        /// Provider id.
        provider_message_id: String,
        /// The customer.
        contact: Identity,
    },
    /// A call event.
    Call {
        /// Provider call id.
        call_id: String,
        /// The customer.
        contact: Identity,
        /// What happened, as JSON.
        update: serde_json::Value,
        /// The reference given to start-call.
        reference: Option<String>,
    },
}
