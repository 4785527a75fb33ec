//! A connector for the host's tests. The webhook body names what it should do:
//!
//! - `ok`: answer 200 with `version=<version>` and one text message event;
//! - `loop`: spin forever (the CPU deadline must stop it);
//! - `alloc`: allocate without bound (the memory cap must stop it);
//! - `trap`: panic;
//! - `egress <url>`: GET the URL through the host's `http` import and answer with the outcome
//!   (`reached <status> <content-type> <body>`);
//! - `wasi-egress <url>`: the same through `wasi:http`, as connectors built against contract
//!   0.1.0 do;
//! - `count`: increment a counter in the channel's state and answer with its value;
//! - `log <text>`: write a log line through the host;
//! - `print <text>`: print the line `<text>` to standard output and `<text>!` to standard error,
//!   the second in two pieces, then `tail-<text>` to standard output without a line end;
//! - anything else: reject with 400.

use switchboard_sdk::http::Request;
use switchboard_sdk::prelude::*;

struct Testbed;

#[cfg(not(feature = "v2"))]
const VERSION: &str = "0.1.0";
#[cfg(feature = "v2")]
const VERSION: &str = "0.2.0";

fn text_event(id: &str, text: &str) -> Event {
    Event::Message(Message {
        provider_message_id: id.into(),
        direction: Direction::Inbound,
        contact: Participant { id: "tester".into(), display_name: None, phone: None },
        business_id: None,
        timestamp_ms: None,
        parts: vec![ContentPart::Text(text.into())],
        reply_to: None,
        referral: None,
        segments: None,
        metadata: Vec::new(),
    })
}

impl Connector for Testbed {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            id: "testbed".into(),
            version: VERSION.into(),
            name: "Testbed".into(),
            kind: ChannelKind::Other,
            capabilities: Capabilities::none(),
            settings: vec![SettingSpec {
                key: "greeting".into(),
                description: "Text echoed by `ok`.".into(),
                secret: false,
                required: false,
                default_value: Some("hello".into()),
            }],
            egress: vec![EgressRule::Host("example.com".into())],
        }
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        let body = String::from_utf8_lossy(&request.body).to_string();
        let (command, argument) = body.split_once(' ').unwrap_or((body.as_str(), ""));
        match command {
            "ok" => {
                let greeting = host::setting("greeting").unwrap_or_default();
                let reply = format!("version={VERSION} greeting={greeting}");
                Ok(respond(200, "text/plain", reply.into_bytes(), vec![text_event("ok-1", &greeting)]))
            }
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("testbed asked to trap"),
            "egress" => match Request::get(argument.trim()).send() {
                Ok(response) => {
                    let kind = response.header("content-type").unwrap_or("-");
                    let reply = format!("reached {} {kind} {}", response.status, String::from_utf8_lossy(&response.body));
                    Ok(respond(200, "text/plain", reply.into_bytes(), Vec::new()))
                }
                Err(e) => Ok(respond(200, "text/plain", format!("failed {e}").into_bytes(), Vec::new())),
            },
            "wasi-egress" => match wasi_get(argument.trim()) {
                Ok(status) => Ok(respond(200, "text/plain", format!("reached {status}").into_bytes(), Vec::new())),
                Err(e) => Ok(respond(200, "text/plain", format!("failed {e}").into_bytes(), Vec::new())),
            },
            "count" => {
                let current = host::state_get("count")
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(0);
                let next = current + 1;
                host::state_set("count", next.to_string().as_bytes())
                    .map_err(|e| reject(400, &e))?;
                Ok(respond(200, "text/plain", next.to_string().into_bytes(), Vec::new()))
            }
            "log" => {
                host::info(argument);
                Ok(respond(204, "", Vec::new(), Vec::new()))
            }
            "print" => {
                println!("{argument}");
                eprint!("{argument}");
                eprintln!("!");
                print!("tail-{argument}");
                Ok(respond(204, "", Vec::new(), Vec::new()))
            }
            _ => Err(reject(400, "unknown testbed command")),
        }
    }

    fn send(message: OutboundMessage) -> Result<SendReceipt, SendError> {
        Ok(SendReceipt { provider_message_id: format!("testbed-{}", message.message_id), segments: None })
    }
}

/// GET `url` through `wasi:http/outgoing-handler`; the response's status, or the error.
fn wasi_get(url: &str) -> Result<u16, String> {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, OutgoingBody, OutgoingRequest, Scheme};
    let parsed = switchboard_sdk::http::ParsedUrl::parse(url).map_err(|e| e.to_string())?;
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_scheme(Some(if parsed.https { &Scheme::Https } else { &Scheme::Http }));
    request.set_authority(Some(&parsed.authority)).map_err(|_| format!("invalid authority `{}`", parsed.authority))?;
    request.set_path_with_query(Some(&parsed.path_and_query)).map_err(|_| format!("invalid path `{}`", parsed.path_and_query))?;
    let body = request.body().map_err(|_| "request body unavailable".to_string())?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("egress denied or failed: {e:?}"))?;
    OutgoingBody::finish(body, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(code))) => Err(format!("egress denied or failed: {code:?}")),
        _ => Err("the response was already taken".into()),
    }
}

switchboard_sdk::export_connector!(Testbed);
