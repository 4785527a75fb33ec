//! Graph API errors, mapped to the contract's categories.
//!
//! Codes from Meta's WhatsApp Cloud API error reference: 130429 and 131056 (and the generic
//! throttling codes 4, 80007) are rate limits; 190 is an expired or invalid token; 131047 means
//! the 24-hour window has closed (re-engagement: send a template); 131050 means the user stopped
//! marketing messages; 131000, 131016, 133004 and the generic codes 1 and 2 are temporary.

use serde::Deserialize;
use switchboard_sdk::http::Response;
use switchboard_sdk::types::{FailureCategory, ProviderError, SendError};

/// Meta's error body: `{"error": {...}}`.
#[derive(Debug, Deserialize)]
pub struct GraphErrorBody {
    /// The error.
    pub error: GraphError,
}

/// One Graph API error.
#[derive(Debug, Deserialize, Default)]
pub struct GraphError {
    /// Meta's code.
    #[serde(default)]
    pub code: i64,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// A subcode.
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// Extra detail.
    #[serde(default)]
    pub error_data: Option<serde_json::Value>,
}

/// What an error code means for the host's policy.
pub fn category(code: i64, http_status: u16) -> FailureCategory {
    match code {
        130429 | 131056 | 131048 | 4 | 80007 | 613 => FailureCategory::RateLimited,
        190 | 10 | 200 => FailureCategory::Auth,
        131047 => FailureCategory::WindowClosed,
        131050 => FailureCategory::OptedOut,
        1 | 2 | 131000 | 131016 | 133004 => FailureCategory::Transient,
        _ if http_status == 401 => FailureCategory::Auth,
        _ if http_status == 429 => FailureCategory::RateLimited,
        _ if http_status >= 500 => FailureCategory::Transient,
        _ => FailureCategory::Rejected,
    }
}

/// A typed send error from a category and a provider error.
pub fn send_error(category: FailureCategory, error: ProviderError, retry_after_ms: Option<u64>) -> SendError {
    match category {
        FailureCategory::RateLimited => SendError::RateLimited((retry_after_ms, error)),
        FailureCategory::Auth => SendError::Auth(error),
        FailureCategory::WindowClosed => SendError::WindowClosed(error),
        FailureCategory::OptedOut => SendError::OptedOut(error),
        FailureCategory::Transient => SendError::Transient(error),
        FailureCategory::Rejected => SendError::Rejected(error),
    }
}

/// Map a failed Graph API response.
pub fn from_response(response: &Response) -> SendError {
    let parsed: Option<GraphError> = response.json::<GraphErrorBody>().ok().map(|b| b.error);
    match parsed {
        Some(e) => {
            let detail = e
                .error_data
                .as_ref()
                .and_then(|d| d.get("details"))
                .and_then(|d| d.as_str())
                .map(str::to_string)
                .or_else(|| e.error_subcode.map(|s| format!("subcode {s}")));
            let error = ProviderError { code: e.code.to_string(), title: e.message.clone(), detail };
            send_error(category(e.code, response.status), error, response.retry_after_ms())
        }
        None => switchboard_sdk::errors::classify_http_failure(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        assert_eq!(category(130429, 400), FailureCategory::RateLimited);
        assert_eq!(category(190, 401), FailureCategory::Auth);
        assert_eq!(category(131047, 400), FailureCategory::WindowClosed);
        assert_eq!(category(131050, 400), FailureCategory::OptedOut);
        assert_eq!(category(131026, 400), FailureCategory::Rejected);
        assert_eq!(category(131000, 500), FailureCategory::Transient);
        assert_eq!(category(99999, 503), FailureCategory::Transient);
    }
}
