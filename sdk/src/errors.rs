//! Mapping provider failures to the contract's typed errors.

use crate::http::{HttpError, Response};
use crate::types::{FailureCategory, ProviderError, SendError};

/// Build a provider error from a code and a title.
pub fn provider_error(code: &str, title: &str) -> ProviderError {
    ProviderError { code: code.to_string(), title: title.to_string(), detail: None }
}

/// The typed error for a failure category, with the provider's words and any retry-after.
pub fn from_category(category: FailureCategory, error: ProviderError, retry_after_ms: Option<u64>) -> SendError {
    match category {
        FailureCategory::RateLimited => SendError::RateLimited((retry_after_ms, error)),
        FailureCategory::Auth => SendError::Auth(error),
        FailureCategory::WindowClosed => SendError::WindowClosed(error),
        FailureCategory::OptedOut => SendError::OptedOut(error),
        FailureCategory::Transient => SendError::Transient(error),
        FailureCategory::Rejected => SendError::Rejected(error),
    }
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
    let category = match status {
        429 => FailureCategory::RateLimited,
        401 | 403 => FailureCategory::Auth,
        408 | 500..=599 => FailureCategory::Transient,
        _ => FailureCategory::Rejected,
    };
    from_category(category, error, response.retry_after_ms())
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
        HttpError::InvalidRequest(detail) => SendError::Rejected(ProviderError {
            code: "invalid-request".into(),
            title: "the connector built a request the host refuses to send".into(),
            detail: Some(detail),
        }),
        HttpError::TooLarge(limit) => SendError::Rejected(ProviderError {
            code: "response-too-large".into(),
            title: "the provider's response is larger than a connector call may hold: raise runtime.memory_limit_mib".into(),
            detail: Some(format!("limit {limit} bytes")),
        }),
        HttpError::Transport(detail) => SendError::Transient(ProviderError {
            code: "network".into(),
            title: "the provider could not be reached".into(),
            detail: Some(detail),
        }),
    }
}
