//! Helpers for reading webhook requests and building replies.

use crate::form::Form;
use crate::types::{Event, Header, HttpRequest, HttpResponse, WebhookOutcome, WebhookRejection};

/// Convenience accessors on the inbound request.
pub trait RequestExt {
    /// The first header with this name (case-insensitive).
    fn header(&self, name: &str) -> Option<&str>;
    /// The query string's parameters.
    fn query_params(&self) -> Form;
    /// The body as form parameters.
    fn form(&self) -> Form;
    /// The body parsed as JSON, or a 400 rejection naming the parse error.
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, WebhookRejection>;
}

impl RequestExt for HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    fn query_params(&self) -> Form {
        Form::parse(self.query.as_bytes())
    }

    fn form(&self) -> Form {
        Form::parse(&self.body)
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, WebhookRejection> {
        serde_json::from_slice(&self.body)
            .map_err(|e| reject(400, &format!("the body is not valid JSON for this webhook: {e}")))
    }
}

/// A rejection: the host answers `status` and stores nothing.
pub fn reject(status: u16, reason: &str) -> WebhookRejection {
    WebhookRejection { status, reason: reason.to_string() }
}

/// An accepted webhook: the reply for the provider, and the events it carried.
pub fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>, events: Vec<Event>) -> WebhookOutcome {
    let headers = if content_type.is_empty() {
        Vec::new()
    } else {
        vec![Header { name: "content-type".into(), value: content_type.into() }]
    };
    WebhookOutcome { response: HttpResponse { status, headers, body: body.into() }, events }
}
