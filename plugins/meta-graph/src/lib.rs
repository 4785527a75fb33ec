//! What Meta's webhooks and Graph API share across WhatsApp, Instagram and Messenger.
//!
//! - The `GET` verification handshake (`hub.mode`, `hub.verify_token`, `hub.challenge`).
//! - `X-Hub-Signature-256`: HMAC-SHA256 of the raw body with the app secret.
//! - Graph API error bodies (`{"error": {"code", "message", "error_subcode", ...}}`).

use serde::Deserialize;
use switchboard_sdk::http::{Request, Response};
use switchboard_sdk::prelude::*;
use switchboard_sdk::signature::{hmac_sha256, verify_hmac_sha256_hex};

/// Answer Meta's verification `GET`: the challenge when the mode is `subscribe` and the token
/// matches the channel's `verify-token` setting, 403 otherwise.
pub fn verify_handshake(request: &HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
    let query = request.query_params();
    let expected = host::setting("verify-token").unwrap_or_default();
    let given = query.get("hub.verify_token").unwrap_or("");
    // Compare digests so the comparison does not depend on where the tokens differ.
    let tokens_match = !expected.is_empty() && hmac_sha256(b"verify", given.as_bytes()) == hmac_sha256(b"verify", expected.as_bytes());
    if query.get("hub.mode") != Some("subscribe") || !tokens_match {
        return Err(reject(403, "verification failed: hub.mode must be subscribe and hub.verify_token must match the channel's verify-token"));
    }
    let challenge = query.get("hub.challenge").unwrap_or("").to_string();
    Ok(respond(200, "text/plain", challenge.into_bytes(), Vec::new()))
}

/// Check `X-Hub-Signature-256` over the raw body with the channel's `app-secret`.
pub fn check_signature(request: &HttpRequest) -> Result<(), WebhookRejection> {
    let secret = host::setting("app-secret").unwrap_or_default();
    verify_hmac_sha256_hex(secret.as_bytes(), &request.body, request.header("x-hub-signature-256"), "sha256=")
        .map_err(|e| reject(401, &format!("X-Hub-Signature-256: {e}")))
}

/// Route a webhook request: `GET` is the handshake, `POST` is checked and handed to `events`.
pub fn handle(request: HttpRequest, events: impl FnOnce(&[u8]) -> Result<Vec<Event>, WebhookRejection>) -> Result<WebhookOutcome, WebhookRejection> {
    match request.method.as_str() {
        "GET" => verify_handshake(&request),
        "POST" => {
            check_signature(&request)?;
            let events = events(&request.body)?;
            Ok(respond(200, "text/plain", b"EVENT_RECEIVED".to_vec(), events))
        }
        other => Err(reject(405, &format!("{other} is not a webhook method; Meta sends GET (verification) and POST"))),
    }
}

/// Meta's error body.
#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    error: GraphError,
}

/// One Graph API error.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct GraphError {
    /// Meta's code.
    #[serde(default)]
    pub code: i64,
    /// Meta's subcode.
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// Extra detail.
    #[serde(default)]
    pub error_data: Option<serde_json::Value>,
}

/// Map a failed Graph API response, with the channel's own reading of codes and subcodes.
pub fn error_from_response(response: &Response, category: impl Fn(&GraphError, u16) -> FailureCategory) -> SendError {
    match response.json::<GraphErrorBody>() {
        Ok(body) => {
            let e = body.error;
            let detail = e
                .error_data
                .as_ref()
                .and_then(|d| d.get("details").and_then(|d| d.as_str()).map(str::to_string))
                .or_else(|| e.error_subcode.map(|s| format!("subcode {s}")));
            let error = ProviderError { code: e.code.to_string(), title: e.message.clone(), detail };
            switchboard_sdk::errors::from_category(category(&e, response.status), error, response.retry_after_ms())
        }
        Err(_) => switchboard_sdk::errors::classify_http_failure(response),
    }
}

/// The reading of Graph codes common to Meta's messaging products: throttling, tokens, and
/// temporary failures; anything else is a rejection.
pub fn common_category(code: i64, http_status: u16) -> FailureCategory {
    match code {
        4 | 17 | 32 | 613 | 80007 => FailureCategory::RateLimited,
        190 | 102 => FailureCategory::Auth,
        1 | 2 => FailureCategory::Transient,
        _ if http_status == 401 => FailureCategory::Auth,
        _ if http_status == 429 => FailureCategory::RateLimited,
        _ if http_status >= 500 => FailureCategory::Transient,
        _ => FailureCategory::Rejected,
    }
}

/// A Graph API client for one channel: `{base}/{version}`, with the channel's token.
pub struct Graph {
    /// `{base}/{version}`, no trailing slash.
    pub root: String,
    /// The access token.
    pub token: String,
}

impl Graph {
    /// From the channel's `graph-api-base-url`, `graph-api-version` and `access-token` settings.
    pub fn from_settings(default_base: &str, default_version: &str) -> Result<Graph, SendError> {
        let base = host::setting("graph-api-base-url").unwrap_or_else(|| default_base.into());
        let version = host::setting("graph-api-version").unwrap_or_else(|| default_version.into());
        Ok(Graph { root: format!("{}/{}", base.trim_end_matches('/'), version.trim_matches('/')), token: require_setting("access-token")? })
    }

    /// POST JSON to `{root}/{path}`; a non-2xx answer is mapped with `category`.
    pub fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        category: impl Fn(&GraphError, u16) -> FailureCategory,
    ) -> Result<Response, SendError> {
        let response = Request::post(&format!("{}/{path}", self.root))
            .bearer(&self.token)
            .json(body)
            .send()
            .map_err(switchboard_sdk::errors::from_http_error)?;
        if response.is_success() { Ok(response) } else { Err(error_from_response(&response, category)) }
    }
}
