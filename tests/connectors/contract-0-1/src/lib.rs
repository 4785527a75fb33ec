//! A connector built against `switchboard:connector@0.1.0` (`wit/connector.wit`) without the
//! SDK. Its webhook answers 200 with `contract 0.1.0 <body>` and no events; `send` accepts
//! every message.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "channel",
});

use exports::switchboard::connector::connector::Guest;
use switchboard::connector::types::*;

struct Legacy;

impl Guest for Legacy {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            id: "legacy".into(),
            version: "1.0.0".into(),
            name: "Contract 0.1.0 connector".into(),
            kind: ChannelKind::Other,
            capabilities: Capabilities {
                reply_window_seconds: None,
                human_agent_window_seconds: None,
                max_text_length: None,
                attachment_kinds: Vec::new(),
                templates: false,
                interactive: false,
                reactions: false,
                replies: false,
                typing: false,
                read_receipts: false,
                comments: false,
                calls: false,
            },
            settings: Vec::new(),
            egress: Vec::new(),
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        let mut body = b"contract 0.1.0 ".to_vec();
        body.extend_from_slice(&request.body);
        Ok(WebhookOutcome { response: HttpResponse { status: 200, headers: Vec::new(), body }, events: Vec::new() })
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        Ok(SendReceipt { provider_message_id: format!("legacy-{}", message.message_id), segments: None })
    }

    fn act(_action: Action) -> Result<ActionReceipt, SendError> {
        Err(unsupported("actions"))
    }

    fn fetch_media(_media: Media) -> Result<FetchedMedia, SendError> {
        Err(unsupported("media"))
    }
}

fn unsupported(what: &str) -> SendError {
    SendError::Rejected(ProviderError { code: "unsupported".into(), title: format!("this connector has no {what}"), detail: None })
}

export!(Legacy);
