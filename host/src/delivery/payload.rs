//! The outbox payload, and its translation into the connector contract.

use crate::domain::outbound::{OutboundContent, OutboundMedia, TemplateParameter};
use crate::runtime::bindings::v0_1::switchboard::connector::types as wit;
use serde::{Deserialize, Serialize};

/// What the outbox keeps for a message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    /// The recipient's provider id.
    pub to: String,
    /// What to send.
    pub content: OutboundContent,
    /// Provider id of the message replied to.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Provider tag chosen by policy.
    #[serde(default)]
    pub tag: Option<String>,
    /// MIME type of an uploaded attachment.
    #[serde(default)]
    pub attachment_mime: Option<String>,
}

fn media(m: &OutboundMedia, data: Option<&Vec<u8>>) -> wit::OutboundMedia {
    wit::OutboundMedia {
        kind: crate::ingest::translate::wit_media_kind(&m.kind),
        url: m.url.clone(),
        data: data.cloned(),
        mime_type: m.mime_type.clone(),
        filename: m.filename.clone(),
        caption: m.caption.clone(),
    }
}

impl Payload {

    /// The contract's message for the connector; `data` holds the bytes of an uploaded
    /// attachment, when the media names one.
    pub fn to_wit(&self, message_id: &str, data: Option<&Vec<u8>>) -> wit::OutboundMessage {
        let content = match &self.content {
            OutboundContent::Text { text } => wit::OutboundContent::Text(text.clone()),
            OutboundContent::Media { media: m } => {
                let mut media = media(m, data);
                if data.is_some() {
                    media.mime_type = media.mime_type.or_else(|| self.attachment_mime.clone());
                }
                wit::OutboundContent::Media(media)
            }
            OutboundContent::Template { template } => wit::OutboundContent::Template(wit::TemplateMessage {
                name: template.name.clone(),
                language: template.language.clone(),
                components: template
                    .components
                    .iter()
                    .map(|c| wit::TemplateComponent {
                        kind: c.kind.clone(),
                        sub_type: c.sub_type.clone(),
                        index: c.index,
                        parameters: c
                            .parameters
                            .iter()
                            .map(|p| match p {
                                TemplateParameter::Text { text } => wit::TemplateParameter::Text(text.clone()),
                                TemplateParameter::Currency { code, amount_1000, fallback } => {
                                    wit::TemplateParameter::Currency((code.clone(), *amount_1000, fallback.clone()))
                                }
                                TemplateParameter::DateTime { fallback } => wit::TemplateParameter::DateTime(fallback.clone()),
                                TemplateParameter::Media { media: m } => wit::TemplateParameter::Media(media(m, None)),
                                TemplateParameter::Payload { payload } => wit::TemplateParameter::Payload(payload.clone()),
                            })
                            .collect(),
                    })
                    .collect(),
            }),
            OutboundContent::Interactive { interactive } => {
                let action = match (&interactive.buttons, &interactive.list) {
                    (Some(buttons), _) => wit::InteractiveAction::Buttons(
                        buttons.iter().map(|b| wit::Button { id: b.id.clone(), title: b.title.clone() }).collect(),
                    ),
                    (None, Some(list)) => wit::InteractiveAction::List((
                        list.button.clone(),
                        list.sections
                            .iter()
                            .map(|s| wit::ListSection {
                                title: s.title.clone(),
                                rows: s
                                    .rows
                                    .iter()
                                    .map(|r| wit::ListRow { id: r.id.clone(), title: r.title.clone(), description: r.description.clone() })
                                    .collect(),
                            })
                            .collect(),
                    )),
                    (None, None) => wit::InteractiveAction::Buttons(Vec::new()),
                };
                wit::OutboundContent::Interactive(wit::InteractiveMessage {
                    header: interactive.header.clone(),
                    body: interactive.body.clone(),
                    footer: interactive.footer.clone(),
                    action,
                })
            }
        };
        wit::OutboundMessage {
            message_id: message_id.to_string(),
            to: self.to.clone(),
            content,
            reply_to: self.reply_to.clone(),
            tag: self.tag.clone(),
            metadata: Vec::new(),
        }
    }
}
