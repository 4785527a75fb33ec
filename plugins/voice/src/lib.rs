//! The voice bridge (Twilio-style Voice API).
//!
//! An incoming call asks the host, through the `call-routing` import, what to do: ring an
//! available agent, queue the caller (announcing position and expected wait), or take a
//! voicemail. An optional IVR menu (the `ivr-menu` setting) runs first. Call progress, menu
//! answers, recordings and transcripts come back as call events for the caller's timeline, and
//! `start-call` places a call from a conversation (the host's reference rides along on every
//! callback, so the call joins that conversation).
//!
//! Callbacks come back to the channel's webhook with `?event=` naming what they are.

pub mod twiml;

use serde::Deserialize;
use std::collections::BTreeMap;
use switchboard_sdk::form::Form;
use switchboard_sdk::host::{AgentTarget, CallDecision, IncomingCall, QueuePosition, route_call};
use switchboard_sdk::prelude::*;
use twiml::{Verb, response};
use twilio_common::{Api, e164, verified_form};

/// The connector.
pub struct Voice;

/// Longest voicemail, in seconds, when the operator sets none.
pub const DEFAULT_VOICEMAIL_SECONDS: &str = "120";

/// The connector's description.
pub fn info() -> ConnectorInfo {
    let mut settings = twilio_common::common_settings();
    let mut add = |key: &str, description: &str, default: Option<&str>| {
        settings.push(SettingSpec { key: key.into(), description: description.into(), secret: false, required: false, default_value: default.map(str::to_string) })
    };
    add("phone-number", "The number calls are placed from (caller id), in E.164.", None);
    add(
        "ivr-menu",
        "An optional menu, as JSON: {\"prompt\": \"For sales press 1...\", \"options\": {\"1\": \"sales\", \"2\": \"support\"}}.",
        None,
    );
    add("voicemail-max-seconds", "The longest voicemail recorded, in seconds.", Some(DEFAULT_VOICEMAIL_SECONDS));
    ConnectorInfo {
        id: "voice".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        name: "Voice bridge (Twilio-style)".into(),
        kind: ChannelKind::Voice,
        capabilities: Capabilities {
            calls: true,
            ..Capabilities::none()
        },
        settings,
        egress: vec![EgressRule::HostOfSetting("api-base-url".into())],
    }
}

/// The IVR menu from the `ivr-menu` setting.
#[derive(Debug, Deserialize)]
pub struct Menu {
    /// What the caller hears.
    pub prompt: String,
    /// Digit (or word) to choice.
    pub options: BTreeMap<String, String>,
}

impl Menu {
    /// The choice a caller's digits or words select.
    pub fn choose(&self, digits: Option<&str>, speech: Option<&str>) -> Option<String> {
        if let Some(d) = digits.filter(|d| !d.is_empty()) {
            return self.options.get(d).cloned();
        }
        let said = speech?.to_lowercase();
        self.options.values().find(|choice| said.contains(&choice.to_lowercase())).cloned()
    }
}

fn menu() -> Option<Menu> {
    let text = host::setting("ivr-menu").filter(|t| !t.trim().is_empty())?;
    match serde_json::from_str(&text) {
        Ok(m) => Some(m),
        Err(e) => {
            host::warn(&format!("ignoring the ivr-menu setting, which is not valid JSON: {e}"));
            None
        }
    }
}

fn callback(event: &str, reference: Option<&str>) -> String {
    let base = host::webhook_url();
    match reference {
        Some(r) => format!("{base}?event={event}&reference={}", Form::encode([("r", r)]).trim_start_matches("r=")),
        None => format!("{base}?event={event}"),
    }
}

fn person(number: &str) -> Participant {
    Participant { id: number.to_string(), display_name: None, phone: e164(number) }
}

/// What one webhook is about, from the request.
struct Call<'a> {
    form: &'a Form,
    sid: String,
    customer: String,
    business: String,
    inbound: bool,
    reference: Option<String>,
}

impl Call<'_> {
    fn event(&self, update: CallUpdate) -> Event {
        Event::Call(CallEvent {
            call_id: self.sid.clone(),
            direction: if self.inbound { Direction::Inbound } else { Direction::Outbound },
            contact: person(&self.customer),
            business_id: Some(self.business.clone()),
            update,
            reference: self.reference.clone(),
            timestamp_ms: None,
        })
    }

    fn status(&self) -> Event {
        let status = self.form.get("CallStatus").unwrap_or("unknown").to_string();
        let duration = self.form.get("CallDuration").and_then(|d| d.parse().ok());
        self.event(CallUpdate::Status(CallStatus { status, duration_seconds: duration }))
    }
}

fn twiml(body: String, events: Vec<Event>) -> WebhookOutcome {
    respond(200, "text/xml", body.into_bytes(), events)
}

/// The TwiML for a routing decision.
pub fn render(decision: &CallDecision, reference: Option<&str>) -> String {
    match decision {
        CallDecision::Connect(AgentTarget { address, ring_seconds, .. }) => {
            let noun = if let Some(client) = address.strip_prefix("client:") {
                Verb::text("Client", client)
            } else if address.starts_with("sip:") {
                Verb::text("Sip", address)
            } else {
                Verb::text("Number", address)
            };
            response(vec![
                Verb::text("Say", "Connecting you to an agent."),
                Verb::nest("Dial", vec![noun]).attr("timeout", ring_seconds).attr("action", callback("dial", reference)),
            ])
        }
        CallDecision::Enqueue(QueuePosition { queue, position, expected_wait_seconds }) => {
            let minutes = expected_wait_seconds.div_ceil(60).max(1);
            let wait = if minutes == 1 { "about one minute".to_string() } else { format!("about {minutes} minutes") };
            response(vec![
                Verb::text("Say", &format!("All our agents are busy. You are number {position} in the queue. The expected wait is {wait}.")),
                Verb::text("Enqueue", queue),
            ])
        }
        CallDecision::Voicemail(reason) => {
            let max = host::setting("voicemail-max-seconds").unwrap_or_else(|| DEFAULT_VOICEMAIL_SECONDS.into());
            response(vec![
                Verb::text("Say", &format!("{reason}. Please leave a message after the tone.")),
                Verb::empty("Record")
                    .attr("action", callback("recorded", reference))
                    .attr("maxLength", max)
                    .attr("playBeep", "true")
                    .attr("transcribe", "true")
                    .attr("transcribeCallback", callback("transcription", reference)),
                Verb::text("Say", "We did not receive a message. Goodbye."),
                Verb::empty("Hangup"),
            ])
        }
    }
}

fn route(call: &Call<'_>, choice: Option<String>) -> String {
    let decision = route_call(&IncomingCall {
        call_id: call.sid.clone(),
        caller: person(&call.customer),
        called: call.business.clone(),
        menu_choice: choice,
        reference: call.reference.clone(),
    });
    render(&decision, call.reference.as_deref())
}

impl Connector for Voice {
    fn describe() -> ConnectorInfo {
        info()
    }

    fn handle_webhook(request: HttpRequest) -> Result<WebhookOutcome, WebhookRejection> {
        let form = verified_form(&request)?;
        let query = request.query_params();
        let sid = form.require("CallSid").map_err(|e| reject(400, &e))?.to_string();
        let from = form.require("From").map_err(|e| reject(400, &e))?.to_string();
        let to = form.require("To").map_err(|e| reject(400, &e))?.to_string();
        let inbound = form.get("Direction").is_none_or(|d| d == "inbound");
        let (customer, business) = if inbound { (from, to) } else { (to, from) };
        let call = Call { form: &form, sid, customer, business, inbound, reference: query.get("reference").map(str::to_string) };
        let progress = form.get("CallbackSource") == Some("call-progress-events");
        match query.get("event") {
            None | Some("incoming") if !progress => {
                let events = vec![call.status()];
                match menu().filter(|_| call.reference.is_none()) {
                    Some(m) => {
                        let gather = Verb::nest("Gather", vec![Verb::text("Say", &m.prompt)])
                            .attr("input", "dtmf speech")
                            .attr("numDigits", 1)
                            .attr("action", callback("menu", None));
                        let body = response(vec![gather, Verb::empty("Redirect").attr_text(callback("menu", None))]);
                        Ok(twiml(body, events))
                    }
                    None => Ok(twiml(route(&call, None), events)),
                }
            }
            Some("menu") => {
                let digits = form.get("Digits").map(str::to_string);
                let speech = form.get("SpeechResult").map(str::to_string);
                let confidence = form.get("Confidence").and_then(|c| c.parse().ok());
                let choice = menu().and_then(|m| m.choose(digits.as_deref(), speech.as_deref()));
                let mut events = Vec::new();
                if digits.is_some() || speech.is_some() {
                    events.push(call.event(CallUpdate::Input(CallerInput { digits, speech, confidence })));
                }
                Ok(twiml(route(&call, choice), events))
            }
            Some("outbound") => Ok(twiml(route(&call, None), vec![call.status()])),
            Some("dial") => {
                // The agent's leg ended: if nobody answered, the caller leaves a voicemail.
                let answered = form.get("DialCallStatus") == Some("completed");
                let body = if answered {
                    response(vec![Verb::empty("Hangup")])
                } else {
                    render(&CallDecision::Voicemail("The agent is not available".into()), call.reference.as_deref())
                };
                let status = form.get("DialCallStatus").unwrap_or("unknown");
                Ok(twiml(body, vec![call.event(CallUpdate::Status(CallStatus { status: format!("agent-{status}"), duration_seconds: None }))]))
            }
            Some("recorded") => {
                let url = form.require("RecordingUrl").map_err(|e| reject(400, &e))?.to_string();
                let recording = Media {
                    kind: MediaKind::Audio,
                    provider_media_id: form.get("RecordingSid").map(str::to_string),
                    url: Some(url),
                    mime_type: Some("audio/x-wav".into()),
                    filename: None,
                    caption: None,
                    sha256: None,
                    size_bytes: None,
                };
                let body = response(vec![Verb::text("Say", "Thank you. Goodbye."), Verb::empty("Hangup")]);
                Ok(twiml(body, vec![call.event(CallUpdate::Recording(recording))]))
            }
            Some("transcription") => {
                let text = form.get("TranscriptionText").unwrap_or("").to_string();
                let recording = form.get("RecordingUrl").map(|url| Media {
                    kind: MediaKind::Audio,
                    provider_media_id: form.get("RecordingSid").map(str::to_string),
                    url: Some(url.to_string()),
                    mime_type: Some("audio/x-wav".into()),
                    filename: None,
                    caption: None,
                    sha256: None,
                    size_bytes: None,
                });
                let event = call.event(CallUpdate::Transcript(CallTranscript { text, recording, voicemail: true }));
                Ok(twilio_common::empty_twiml(vec![event]))
            }
            // Status callbacks (and anything else): record the status as the provider said it.
            _ => Ok(twilio_common::empty_twiml(vec![call.status()])),
        }
    }

    fn send(_message: OutboundMessage) -> Result<SendReceipt, SendError> {
        Err(SendError::Rejected(provider_error("unsupported", "the voice channel carries calls, not messages; use start-call")))
    }

    fn act(action: Action) -> Result<ActionReceipt, SendError> {
        let Action::StartCall(request) = action else {
            return Err(SendError::Rejected(provider_error("unsupported-action", "the voice channel only places calls")));
        };
        let api = Api::from_settings()?;
        let from = require_setting("phone-number")?;
        let url = callback("outbound", Some(&request.reference));
        let status = callback("status", Some(&request.reference));
        let answer = api.post_form(
            "Calls.json",
            &[
                ("To", &request.to),
                ("From", &from),
                ("Url", &url),
                ("StatusCallback", &status),
                ("StatusCallbackEvent", "initiated"),
                ("StatusCallbackEvent", "ringing"),
                ("StatusCallbackEvent", "answered"),
                ("StatusCallbackEvent", "completed"),
            ],
        )?;
        let sid = answer.get("sid").and_then(|s| s.as_str()).map(str::to_string);
        Ok(ActionReceipt { provider_id: sid })
    }

    fn fetch_media(media: Media) -> Result<FetchedMedia, SendError> {
        twilio_common::fetch_media(media)
    }
}

#[cfg(target_arch = "wasm32")]
switchboard_sdk::export_connector!(Voice);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_choices() {
        let menu: Menu = serde_json::from_str(r#"{"prompt": "p", "options": {"1": "sales", "2": "support"}}"#).unwrap();
        assert_eq!(menu.choose(Some("2"), None).as_deref(), Some("support"));
        assert_eq!(menu.choose(None, Some("I need Support please")).as_deref(), Some("support"));
        assert_eq!(menu.choose(Some("9"), None), None);
        assert_eq!(menu.choose(None, None), None);
    }
}
