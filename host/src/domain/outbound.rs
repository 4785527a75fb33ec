//! What an agent asks to send, in the API's terms.

use serde::{Deserialize, Serialize};

/// Media to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundMedia {
    /// `image`, `audio`, `voice`, `video`, `document`, `sticker` or `file`.
    pub kind: String,
    /// Where the provider fetches it (or give `attachment_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An attachment uploaded with `POST /v1/attachments`; the connector uploads its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    /// Caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateParameter {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// A currency amount.
    Currency {
        /// ISO 4217 code.
        code: String,
        /// Amount in thousandths.
        amount_1000: i64,
        /// Fallback text.
        fallback: String,
    },
    /// A date or time, as text.
    DateTime {
        /// Fallback text.
        fallback: String,
    },
    /// Media.
    Media {
        /// The media.
        media: OutboundMedia,
    },
    /// A quick-reply button's payload.
    Payload {
        /// The payload.
        payload: String,
    },
}

/// A template component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateComponent {
    /// `header`, `body` or `button`.
    pub kind: String,
    /// For buttons: `quick_reply`, `url`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    /// For buttons: position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Parameters.
    #[serde(default)]
    pub parameters: Vec<TemplateParameter>,
}

/// A template message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Components.
    #[serde(default)]
    pub components: Vec<TemplateComponent>,
}

/// A choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// Id returned when picked.
    pub id: String,
    /// Title shown.
    pub title: String,
    /// Description (list rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A list section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Rows.
    pub rows: Vec<Choice>,
}

/// A list menu.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMenu {
    /// Label of the button that opens it.
    pub button: String,
    /// Sections.
    pub sections: Vec<Section>,
}

/// An interactive message: reply buttons or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interactive {
    /// Header text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Body text.
    pub body: String,
    /// Footer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Reply buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Choice>>,
    /// A list menu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListMenu>,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundContent {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// Media.
    Media {
        /// The media.
        media: OutboundMedia,
    },
    /// A template.
    Template {
        /// The template.
        template: Template,
    },
    /// An interactive message.
    Interactive {
        /// The message.
        interactive: Interactive,
    },
}

fn media_kind_ok(kind: &str) -> Result<(), String> {
    if ["image", "audio", "voice", "video", "document", "sticker", "file"].contains(&kind) {
        Ok(())
    } else {
        Err(format!("`media.kind` is `{kind}`; use image, audio, voice, video, document, sticker or file"))
    }
}

impl OutboundContent {
    /// Check the shape beyond what the types say. The message names the field.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            OutboundContent::Text { text } if text.trim().is_empty() => Err("`text` is empty".into()),
            OutboundContent::Media { media } => match (&media.url, &media.attachment_id) {
                (Some(url), None) if url.starts_with("https://") || url.starts_with("http://") => media_kind_ok(&media.kind),
                (Some(_), None) => Err("`media.url` must be an http(s) URL".into()),
                (None, Some(_)) => media_kind_ok(&media.kind),
                _ => Err("`media` needs exactly one of `url` and `attachment_id`".into()),
            },
            OutboundContent::Interactive { interactive } => match (&interactive.buttons, &interactive.list) {
                (Some(b), None) if !b.is_empty() && b.len() <= 10 => Ok(()),
                (None, Some(l)) if !l.sections.is_empty() && l.sections.len() <= 10 => Ok(()),
                _ => Err("`interactive` needs either `buttons` (1 to 10) or `list` (1 to 10 sections), not both".into()),
            },
            OutboundContent::Template { template } if template.components.len() > 20 => {
                Err("`template.components` has more than 20 entries".into())
            }
            _ => Ok(()),
        }
    }

    /// The kind, for the send policy.
    pub fn policy_kind(&self) -> super::policy::SendKind {
        use super::policy::SendKind;
        match self {
            OutboundContent::Text { text } => SendKind::Text { chars: text.chars().count() },
            OutboundContent::Media { media } => SendKind::Media { kind: media.kind.clone() },
            OutboundContent::Template { .. } => SendKind::Template,
            OutboundContent::Interactive { .. } => SendKind::Interactive,
        }
    }
}
