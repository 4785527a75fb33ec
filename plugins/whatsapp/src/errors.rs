//! Graph API errors, read the WhatsApp way.
//!
//! Codes from Meta's WhatsApp Cloud API error reference: 130429 and 131056 (pair rate limit) and
//! 131048 (spam rate limit) are rate limits; 131047 means the 24-hour window has closed
//! (re-engagement: send a template); 131050 means the user stopped marketing messages; 131000,
//! 131016 and 133004 are temporary. Codes shared by all Graph products (190 tokens, 4/80007
//! throttling, ...) are read by `meta_graph::common_category`.

use meta_graph::GraphError;
use switchboard_sdk::http::Response;
use switchboard_sdk::types::{FailureCategory, SendError};

/// What an error code means for the host's policy.
pub fn category(code: i64, http_status: u16) -> FailureCategory {
    match code {
        130429 | 131056 | 131048 => FailureCategory::RateLimited,
        131047 => FailureCategory::WindowClosed,
        131050 => FailureCategory::OptedOut,
        131000 | 131016 | 133004 => FailureCategory::Transient,
        _ => meta_graph::common_category(code, http_status),
    }
}

/// Map a failed Graph API response.
pub fn from_response(response: &Response) -> SendError {
    meta_graph::error_from_response(response, |e: &GraphError, status| category(e.code, status))
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
