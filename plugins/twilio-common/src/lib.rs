//! What the Twilio-style connectors share.
//!
//! - Form webhooks signed with `X-Twilio-Signature`: HMAC-SHA1, keyed with the auth token, over
//!   the public URL followed by the sorted parameters. The URL is the channel's
//!   `public-webhook-url` setting when the host sits behind a proxy that rewrites paths, with the
//!   request's query string; otherwise the URL the host was called on.
//! - The REST API: `{api-base-url}/2010-04-01/Accounts/{account-sid}/...`, basic auth.
//! - REST errors (`{"code", "message", "more_info", "status"}`) mapped to the contract.

use switchboard_sdk::form::Form;
use switchboard_sdk::http::{Request, Response};
use switchboard_sdk::prelude::*;
use switchboard_sdk::signature::verify_twilio;

/// The default REST API base URL.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";

/// The settings every Twilio-style connector declares.
pub fn common_settings() -> Vec<SettingSpec> {
    let s = |key: &str, description: &str, secret: bool, required: bool, default: Option<&str>| SettingSpec {
        key: key.into(),
        description: description.into(),
        secret,
        required,
        default_value: default.map(str::to_string),
    };
    vec![
        s("account-sid", "The account SID (starts with AC).", false, true, None),
        s("auth-token", "The account's auth token; it signs webhooks and authenticates API calls.", true, true, None),
        s("api-base-url", "The REST API base URL.", false, false, Some(DEFAULT_API_URL)),
        s(
            "public-webhook-url",
            "The URL the provider calls, when a proxy in front of the host rewrites it; signatures are checked against it.",
            false,
            false,
            None,
        ),
    ]
}

/// The URL the provider signed: the configured public URL (with the request's query string), or
/// the URL the host received.
pub fn signed_url(request: &HttpRequest) -> String {
    match host::setting("public-webhook-url").filter(|u| !u.is_empty()) {
        Some(base) if request.query.is_empty() => base,
        Some(base) => format!("{base}{}{}", if base.contains('?') { '&' } else { '?' }, request.query),
        None => request.url.clone(),
    }
}

/// Check a form webhook's method and signature; returns its parameters.
pub fn verified_form(request: &HttpRequest) -> Result<Form, WebhookRejection> {
    if request.method != "POST" {
        return Err(reject(405, "webhooks must be POSTed as application/x-www-form-urlencoded"));
    }
    let token = host::setting("auth-token").unwrap_or_default();
    let form = request.form();
    verify_twilio(&token, &signed_url(request), &form.pairs, request.header("x-twilio-signature"))
        .map_err(|e| reject(403, &format!("X-Twilio-Signature: {e}; if a proxy rewrites the URL, set public-webhook-url")))?;
    Ok(form)
}

/// An empty TwiML reply: acknowledged, nothing to do.
pub fn empty_twiml(events: Vec<Event>) -> WebhookOutcome {
    respond(200, "text/xml", b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".to_vec(), events)
}

/// A REST client for the channel's account.
pub struct Api {
    /// `{base}/2010-04-01/Accounts/{sid}`.
    pub root: String,
    sid: String,
    token: String,
}

impl Api {
    /// From the channel's settings.
    pub fn from_settings() -> Result<Api, SendError> {
        let base = host::setting("api-base-url").unwrap_or_else(|| DEFAULT_API_URL.into());
        let sid = require_setting("account-sid")?;
        let token = require_setting("auth-token")?;
        Ok(Api { root: format!("{}/2010-04-01/Accounts/{sid}", base.trim_end_matches('/')), sid, token })
    }

    /// POST a form to `{root}/{resource}`; a non-2xx answer becomes a typed error.
    pub fn post_form(&self, resource: &str, fields: &[(&str, &str)]) -> Result<serde_json::Value, SendError> {
        let response = Request::post(&format!("{}/{resource}", self.root))
            .basic_auth(&self.sid, &self.token)
            .form(fields.iter().copied())
            .send()
            .map_err(switchboard_sdk::errors::from_http_error)?;
        if !response.is_success() {
            return Err(error(&response));
        }
        response.json().map_err(|e| SendError::Transient(provider_error("bad-response", &format!("the answer was not JSON: {e}"))))
    }

    /// GET a URL with the account's credentials, following up to three redirects (media URLs
    /// redirect to a CDN).
    pub fn get_following(&self, url: &str) -> Result<Response, SendError> {
        let mut url = url.to_string();
        for _ in 0..4 {
            let mut request = Request::get(&url);
            if url.starts_with(&self.root[..self.root.find("/2010-04-01").unwrap_or(self.root.len())]) {
                request = request.basic_auth(&self.sid, &self.token);
            }
            let response = request.send().map_err(switchboard_sdk::errors::from_http_error)?;
            match (response.status, response.header("location")) {
                (301 | 302 | 303 | 307 | 308, Some(next)) => url = next.to_string(),
                _ if response.is_success() => return Ok(response),
                _ => return Err(error(&response)),
            }
        }
        Err(SendError::Rejected(provider_error("too-many-redirects", "the media URL redirected more than three times")))
    }
}

/// Download media (an MMS attachment, a recording) with the account's credentials.
pub fn fetch_media(media: Media) -> Result<FetchedMedia, SendError> {
    let api = Api::from_settings()?;
    let url = media.url.ok_or_else(|| SendError::Rejected(provider_error("no-media-url", "the media item has no URL")))?;
    let response = api.get_following(&url)?;
    Ok(FetchedMedia { mime_type: response.header("content-type").map(str::to_string).or(media.mime_type), filename: media.filename, data: response.body })
}

/// What a Twilio error code means for the host's policy.
pub fn category(code: i64, http_status: u16) -> FailureCategory {
    match code {
        21610 => FailureCategory::OptedOut,
        20003 | 20005 => FailureCategory::Auth,
        20429 | 14107 => FailureCategory::RateLimited,
        20500 | 20503 => FailureCategory::Transient,
        _ if http_status == 401 => FailureCategory::Auth,
        _ if http_status == 429 => FailureCategory::RateLimited,
        _ if http_status >= 500 => FailureCategory::Transient,
        _ => FailureCategory::Rejected,
    }
}

/// Map a failed REST response: `{"code": 21610, "message": "...", "more_info": "...", "status": 400}`.
pub fn error(response: &Response) -> SendError {
    let body: serde_json::Value = response.json().unwrap_or_default();
    let code = body.get("code").and_then(|c| c.as_i64()).unwrap_or(0);
    let error = ProviderError {
        code: if code == 0 { response.status.to_string() } else { code.to_string() },
        title: body.get("message").and_then(|m| m.as_str()).unwrap_or("the provider refused the request").to_string(),
        detail: body.get("more_info").and_then(|m| m.as_str()).map(str::to_string),
    };
    switchboard_sdk::errors::from_category(category(code, response.status), error, response.retry_after_ms())
}

/// The number, when it is in E.164 form (`+` and digits); client and SIP addresses are not.
pub fn e164(number: &str) -> Option<String> {
    let n = number.trim();
    (n.starts_with('+') && n.len() > 4 && n[1..].bytes().all(|b| b.is_ascii_digit())).then(|| n.to_string())
}
