//! A small blocking HTTP client over the host's `http` import (contract 0.2.0): one host call
//! per request.
//!
//! The host checks every request against the channel's egress allow-list; a refused destination
//! comes back as [`HttpError::Denied`].

/// Why a request got no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused the destination (not on the allow-list, or a private address).
    Denied(String),
    /// The URL could not be parsed.
    InvalidUrl(String),
    /// The request cannot be sent as it is (a method or header the host refuses).
    InvalidRequest(String),
    /// Connecting, sending or receiving failed.
    Transport(String),
    /// The response was larger than the call may hold (the limit in bytes).
    TooLarge(u64),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(d) => write!(f, "egress denied by the host: {d}"),
            HttpError::InvalidUrl(d) => write!(f, "invalid URL: {d}"),
            HttpError::InvalidRequest(d) => write!(f, "invalid request: {d}"),
            HttpError::Transport(d) => write!(f, "HTTP transport error: {d}"),
            HttpError::TooLarge(limit) => write!(f, "the response is larger than the {limit} bytes a connector call may hold"),
        }
    }
}

/// An outgoing request. Build it with [`Request::get`] or [`Request::post`].
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A response with its whole body read.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Response headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `Retry-After` (in seconds) converted to milliseconds, when present.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")?.trim().parse::<u64>().ok().map(|s| s.saturating_mul(1000))
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

impl Request {
    /// A request with this method and URL.
    pub fn new(method: &str, url: &str) -> Request {
        Request { method: method.to_string(), url: url.to_string(), headers: Vec::new(), body: Vec::new() }
    }

    /// A GET request.
    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    /// A POST request.
    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Request {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// `Authorization: Basic <base64(user:password)>`.
    pub fn basic_auth(self, user: &str, password: &str) -> Request {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("authorization", &format!("Basic {encoded}"))
    }

    /// A JSON body, with its content type.
    pub fn json(mut self, value: &serde_json::Value) -> Request {
        self.body = serde_json::to_vec(value).expect("a JSON value always serializes");
        self.header("content-type", "application/json")
    }

    /// A form body, with its content type.
    pub fn form<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Request {
        self.body = crate::form::Form::encode(pairs).into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    /// A `multipart/form-data` body (for media uploads).
    pub fn multipart(mut self, parts: &[FormPart]) -> Request {
        // The boundary only has to be absent from the parts; check and lengthen it if need be.
        let mut boundary = String::from("switchboard-boundary-7d3e1f");
        while parts.iter().any(|p| contains(&p.data, boundary.as_bytes())) {
            boundary.push('x');
        }
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", part.name).as_bytes());
            if let Some(filename) = &part.filename {
                body.extend_from_slice(format!("; filename=\"{}\"", filename.replace('"', "")).as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            if let Some(content_type) = &part.content_type {
                body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.body = body;
        self.header("content-type", &format!("multipart/form-data; boundary={boundary}"))
    }

    /// A raw body with a content type.
    pub fn body(mut self, content_type: &str, body: Vec<u8>) -> Request {
        self.body = body;
        self.header("content-type", content_type)
    }

    /// Send the request and read the whole response.
    pub fn send(self) -> Result<Response, HttpError> {
        // Checked here as well as in the host, so that a bad URL (usually a setting to fix) comes
        // back as `InvalidUrl`, and outside the host too.
        ParsedUrl::parse(&self.url)?;
        transport::send(self)
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct FormPart {
    /// The field name.
    pub name: String,
    /// A file name, for file parts.
    pub filename: Option<String>,
    /// The part's content type.
    pub content_type: Option<String>,
    /// The content.
    pub data: Vec<u8>,
}

impl FormPart {
    /// A plain text field.
    pub fn text(name: &str, value: &str) -> FormPart {
        FormPart { name: name.into(), filename: None, content_type: None, data: value.as_bytes().to_vec() }
    }

    /// A file field.
    pub fn file(name: &str, filename: &str, content_type: &str, data: Vec<u8>) -> FormPart {
        FormPart { name: name.into(), filename: Some(filename.into()), content_type: Some(content_type.into()), data }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// An absolute `http` or `https` URL, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// True for `https`.
    pub https: bool,
    /// `host` or `host:port`.
    pub authority: String,
    /// The path and query, starting with `/`.
    pub path_and_query: String,
}

impl ParsedUrl {
    /// Parse an absolute URL.
    pub fn parse(url: &str) -> Result<ParsedUrl, HttpError> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(HttpError::InvalidUrl(format!("`{url}` must start with http:// or https://")));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(HttpError::InvalidUrl(format!("`{url}` has no valid host")));
        }
        let path_and_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(ParsedUrl { https, authority: authority.to_string(), path_and_query })
    }
}

#[cfg(target_arch = "wasm32")]
mod transport {
    use super::{HttpError, Request, Response};
    use crate::bindings::switchboard::connector0_2_0::http;

    pub(super) fn send(request: Request) -> Result<Response, HttpError> {
        let request = http::Request { method: request.method, url: request.url, headers: request.headers, body: request.body };
        match http::send(&request) {
            Ok(response) => Ok(Response { status: response.status, headers: response.headers, body: response.body }),
            Err(http::RequestError::Denied(why)) => Err(HttpError::Denied(why)),
            Err(http::RequestError::Invalid(why)) => Err(HttpError::InvalidRequest(why)),
            Err(http::RequestError::Transport(why)) => Err(HttpError::Transport(why)),
            Err(http::RequestError::TooLarge(limit)) => Err(HttpError::TooLarge(limit)),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod transport {
    use super::{HttpError, Request, Response};

    pub(super) fn send(_request: Request) -> Result<Response, HttpError> {
        Err(HttpError::Transport("outgoing HTTP is only available inside the host (wasm32-wasip2)".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies() {
        let r = Request::post("https://x/y").multipart(&[FormPart::text("messaging_product", "whatsapp"), FormPart::file("file", "a.png", "image/png", b"PNG".to_vec())]);
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert!(body.contains("Content-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
        assert!(body.contains("name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n"));
        assert!(body.ends_with("--switchboard-boundary-7d3e1f--\r\n"));
    }

    #[test]
    fn parses_urls() {
        let u = ParsedUrl::parse("https://graph.facebook.com/v21.0/123/messages?x=1").unwrap();
        assert!(u.https);
        assert_eq!(u.authority, "graph.facebook.com");
        assert_eq!(u.path_and_query, "/v21.0/123/messages?x=1");
        let u = ParsedUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.https, u.authority.as_str(), u.path_and_query.as_str()), (false, "127.0.0.1:8080", "/"));
        assert!(ParsedUrl::parse("ftp://x").is_err());
        assert!(ParsedUrl::parse("https:///path").is_err());
    }
}
