//! Mapping provider failures to the contract's typed errors.

use crate::http::{HttpError, Response};
use crate::types::{ProviderError, SendError};

/// Build a provider error from a code and a title.
pub fn provider_error(code: &str, title: &str) -> ProviderError {
    ProviderError { code: code.to_string(), title: title.to_string(), detail: None }
}

/// The generic mapping from an HTTP failure to a typed error, for providers without their own
/// error codes: 429 is rate-limited (honouring `Retry-After` in seconds), 401 and 403 are auth,
/// 408 and 5xx are transient, any other status is a rejection. The body is kept as detail.
pub fn classify_http_failure(response: &Response) -> SendError {
    let status = response.status;
    let error = ProviderError {
        code: status.to_string(),
        title: format!("the provider answered HTTP {status}"),
        detail: Some(String::from_utf8_lossy(&response.body).chars().take(1000).collect()),
    };
    match status {
        429 => SendError::RateLimited((response.retry_after_ms(), error)),
        401 | 403 => SendError::Auth(error),
        408 | 500..=599 => SendError::Transient(error),
        _ => SendError::Rejected(error),
    }
}

/// A network failure before any HTTP status is transient (the host retries it), except a
/// denied destination, which no retry will fix.
pub fn from_http_error(error: HttpError) -> SendError {
    match error {
        HttpError::Denied(detail) => SendError::Rejected(ProviderError {
            code: "egress-denied".into(),
            title: "the host refused this destination: check the channel's egress allow-list".into(),
            detail: Some(detail),
        }),
        HttpError::InvalidUrl(detail) => SendError::Rejected(ProviderError {
            code: "invalid-url".into(),
            title: "the provider URL is invalid: check the channel's settings".into(),
            detail: Some(detail),
        }),
        HttpError::Transport(detail) => SendError::Transient(ProviderError {
            code: "network".into(),
            title: "the provider could not be reached".into(),
            detail: Some(detail),
        }),
    }
}
