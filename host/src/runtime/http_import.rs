//! The contract's `http` import (0.2.0): a connector hands over a whole request and gets the
//! whole response back in one host call. The request takes the same way out as one made through
//! `wasi:http` ([`Egress`]): the channel's egress rules, the resolver, the connection pool.

use super::bindings::v0_2::switchboard::connector0_2_0::http as wit;
use super::egress_hook::{Egress, Refused};
use super::state::CallState;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, WasiBody};

impl wit::Host for CallState {
    async fn send(&mut self, request: wit::Request) -> Result<wit::Response, wit::RequestError> {
        send(self.egress(), request, self.limits.memory_bytes as u64).await
    }
}

/// Check and send `request`; a response body over `limit` bytes is refused.
async fn send(egress: &Egress, request: wit::Request, limit: u64) -> Result<wit::Response, wit::RequestError> {
    let request = build(request)?;
    let response = egress.send(request, None).await.map_err(|refused| match refused {
        Refused::Denied { reason, .. } => wit::RequestError::Denied(reason),
        Refused::Failed(error) => wit::RequestError::Transport(error.to_string()),
    })?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| wit::RequestError::Transport(format!("reading the response failed: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if (bytes.len() + data.len()) as u64 > limit {
                return Err(wit::RequestError::TooLarge(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(wit::Response { status, headers, body: bytes })
}

/// The request as the pool sends it, or why it cannot be sent.
fn build(request: wit::Request) -> Result<http::Request<WasiBody>, wit::RequestError> {
    let invalid = |why: String| wit::RequestError::Invalid(why);
    let method = Method::from_bytes(request.method.as_bytes()).map_err(|_| invalid(format!("`{}` is not an HTTP method", request.method)))?;
    let uri: Uri = request.url.parse().map_err(|_| invalid(format!("`{}` is not a valid URL", request.url)))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let Some(authority) = uri.authority().filter(|_| scheme_ok) else {
        return Err(invalid(format!("`{}` is not an absolute http:// or https:// URL", request.url)));
    };
    if authority.as_str().contains('@') {
        return Err(invalid("a URL with credentials in it is not sent; put them in an `authorization` header".into()));
    }
    let mut builder = http::Request::builder().method(method).uri(uri.clone()).header(http::header::HOST, authority.as_str());
    for (name, value) in &request.headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(format!("`{name}` is not a valid header name")))?;
        if header == http::header::CONTENT_LENGTH || DEFAULT_FORBIDDEN_HEADERS.contains(&header) {
            return Err(invalid(format!("header `{header}` is set by the host or belongs to one connection; remove it")));
        }
        let value = HeaderValue::from_str(value).map_err(|_| invalid(format!("the value of header `{header}` is not valid in HTTP")))?;
        builder = builder.header(header, value);
    }
    let body = http_body_util::Full::new(Bytes::from(request.body)).map_err(|never| match never {}).boxed_unsync();
    builder.body(body).map_err(|e| invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> wit::Request {
        wit::Request {
            method: method.into(),
            url: url.into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: b"{}".to_vec(),
        }
    }

    fn refusal(r: wit::Request) -> String {
        match build(r) {
            Err(wit::RequestError::Invalid(why)) => why,
            other => panic!("expected an invalid request, got {:?}", other.map(|r| r.uri().clone())),
        }
    }

    #[test]
    fn a_request_gets_its_host_header_and_keeps_its_own() {
        let built = build(request("POST", "https://graph.example.com:8443/v21.0/1/messages?x=1", &[("Authorization", "Bearer t")])).unwrap();
        assert_eq!(built.method(), Method::POST);
        assert_eq!(built.headers()["host"], "graph.example.com:8443");
        assert_eq!(built.headers()["authorization"], "Bearer t");
        assert_eq!(built.uri().path_and_query().unwrap().as_str(), "/v21.0/1/messages?x=1");
    }

    #[test]
    fn malformed_requests_are_refused_with_the_reason() {
        assert!(refusal(request("GET", "/relative", &[])).contains("absolute http:// or https://"));
        assert!(refusal(request("GET", "ftp://example.com/", &[])).contains("absolute http:// or https://"));
        assert!(refusal(request("GET", "https://exa mple.com/", &[])).contains("not a valid URL"));
        assert!(refusal(request("GET", "https://user:secret@example.com/", &[])).contains("credentials"));
        assert!(refusal(request("GE T", "https://example.com/", &[])).contains("not an HTTP method"));
        assert!(refusal(request("GET", "https://example.com/", &[("bad name", "x")])).contains("not a valid header name"));
        assert!(refusal(request("GET", "https://example.com/", &[("x-a", "line\nbreak")])).contains("not valid in HTTP"));
        assert!(refusal(request("GET", "https://example.com/", &[("Host", "other.example")])).contains("set by the host"));
        assert!(refusal(request("GET", "https://example.com/", &[("transfer-encoding", "chunked")])).contains("set by the host"));
        assert!(refusal(request("GET", "https://example.com/", &[("content-length", "2")])).contains("set by the host"));
    }
}
