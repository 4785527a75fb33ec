//! SMS and the voice bridge end to end: signed form webhooks in, TwiML out, sends and calls to a
//! fake Twilio-style API, and one customer across WhatsApp, SMS and voice.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchboard_tests::*;

const TOKEN: &str = "12345";
const SID: &str = "AC8d88ba5085adeac4015ea92ec9a81ded";
const SMS_URL: &str = "https://cc.example.com/webhooks/twilio/sms";
const VOICE_URL: &str = "https://cc.example.com/webhooks/twilio/voice/incoming";
const WA_SECRET: &str = "wa-secret";

/// A fake Twilio REST API: Messages.json and Calls.json, checked as the API documents them.
async fn twilio() -> FakeProvider {
    let busy = Arc::new(AtomicUsize::new(0));
    FakeProvider::start(move |r, n| {
        use base64::Engine as _;
        let error = |status: u16, code: i64, message: &str| {
            (status, "application/json", json!({ "code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status }).to_string())
        };
        let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}")));
        if r.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
            return error(401, 20003, "Authenticate");
        }
        if r.headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded") {
            return error(400, 20001, "form body expected");
        }
        let form = switchboard_sdk::form::Form::parse(&r.body);
        match r.uri.path() {
            p if p == format!("/2010-04-01/Accounts/{SID}/Messages.json") => {
                let (Some(to), Some(body)) = (form.get("To"), form.get("Body")) else { return error(400, 21604, "A 'To' and 'Body' are required") };
                if form.get("From").is_none() && form.get("MessagingServiceSid").is_none() {
                    return error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required");
                }
                if form.get("StatusCallback").is_none_or(|u| !u.ends_with("/hooks/sms")) {
                    return error(400, 21609, "StatusCallback must be the channel's webhook");
                }
                match body {
                    "unsubscribed" => return error(400, 21610, "Attempt to send to unsubscribed recipient"),
                    "busy" if busy.fetch_add(1, Ordering::SeqCst) == 0 => return error(429, 20429, "Too Many Requests"),
                    _ => {}
                }
                let segments = if body.is_ascii() { body.len().div_ceil(153).max(1) } else { body.encode_utf16().count().div_ceil(67).max(1) };
                (201, "application/json", json!({ "sid": format!("SM{n:032}"), "status": "queued", "to": to, "num_segments": segments.to_string(), "body": body }).to_string())
            }
            p if p == format!("/2010-04-01/Accounts/{SID}/Calls.json") => {
                let events: Vec<&str> = form.pairs.iter().filter(|(k, _)| k == "StatusCallbackEvent").map(|(_, v)| v.as_str()).collect();
                if form.get("To").is_none() || form.get("From").is_none() || form.get("Url").is_none() || events.is_empty() {
                    return error(400, 21205, "To, From, Url and StatusCallbackEvent are required");
                }
                (201, "application/json", json!({ "sid": "CAoutbound0000000000000000000000001", "status": "queued", "to": form.get("To") }).to_string())
            }
            _ => error(404, 20404, "The requested resource was not found"),
        }
    })
    .await
}

async fn host_with(api: &FakeProvider, ivr: Option<&str>) -> (TestHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_on(Backend::Sqlite, dir.path()).await;
    config.runtime.connectors = vec![connector("sms"), connector("voice"), connector("whatsapp")];
    let mut sms = channel("sms", "acme", "sms", &[("account-sid", SID), ("auth-token", TOKEN), ("api-base-url", &api.url()), ("public-webhook-url", SMS_URL), ("phone-number", "+15558675310")]);
    sms.allow_private_egress = true;
    let api_url = api.url();
    let mut settings: Vec<(&str, String)> = [("account-sid", SID), ("auth-token", TOKEN), ("api-base-url", api_url.as_str()), ("public-webhook-url", VOICE_URL), ("phone-number", "+15558675310")]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    if let Some(menu) = ivr {
        settings.push(("ivr-menu", menu.to_string()));
    }
    let refs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut voice = channel("voice", "acme", "voice", &refs);
    voice.allow_private_egress = true;
    let wa = channel("wa", "acme", "whatsapp", &[("app-secret", WA_SECRET), ("verify-token", "v"), ("access-token", "t"), ("phone-number-id", "1")]);
    config.channels.extend([sms, voice, wa]);
    (TestHost::start(config).await, dir)
}

async fn post_form(host: &TestHost, channel: &str, public_url: &str, query: &str, form: &str) -> (u16, String) {
    let url = if query.is_empty() { public_url.to_string() } else { format!("{public_url}?{query}") };
    let path = if query.is_empty() { format!("/hooks/{channel}") } else { format!("/hooks/{channel}?{query}") };
    let response = host
        .client
        .post(format!("{}{path}", host.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sign_twilio(TOKEN, &url, form))
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn sms_form(sid: &str, from: &str, body: &str) -> String {
    switchboard_sdk::form::Form::encode([("MessageSid", sid), ("SmsSid", sid), ("AccountSid", SID), ("From", from), ("To", "+15558675310"), ("Body", body), ("NumMedia", "0")])
}

async fn conversations(host: &TestHost, token: &str) -> Vec<Value> {
    host.api_get(token, "/v1/conversations").await.1["items"].as_array().unwrap().clone()
}

async fn messages(host: &TestHost, token: &str, conversation: &str) -> Vec<Value> {
    host.api_get(token, &format!("/v1/conversations/{conversation}")).await.1["messages"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_inbound_fixture_mms_keywords_and_bad_requests() {
    let api = twilio().await;
    let (host, _dir) = host_with(&api, None).await;
    let (_, token) = token(&host, "acme", "agent").await;

    // The fixture, signed for the proxy's public URL, exactly as the provider sent it.
    let fixture_body = String::from_utf8(fixture("twilio-sms-inbound.form")).unwrap();
    let response = host
        .client
        .post(format!("{}/hooks/sms", host.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", "oD0pWtGmM1zxQqKB6l2FL793HzE=")
        .body(fixture_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(xml_elements(&response.text().await.unwrap()), vec!["Response"]);
    let conversation = conversations(&host, &token).await[0].clone();
    let stored = messages(&host, &token, conversation["id"].as_str().unwrap()).await;
    assert_eq!(stored[0]["parts"][0], json!({ "type": "text", "text": "Ahoy! Let's build something amazing." }));
    assert_eq!(stored[0]["segments"], 1);
    assert_eq!(stored[0]["provider_message_id"], "SM1f0e8ae6ade43cb3c0ce4525424e404f");

    // A wrong signature is 403 and stores nothing; a missing parameter is 400.
    let bad = host.client.post(format!("{}/hooks/sms", host.base)).header("x-twilio-signature", "AAAA").body(sms_form("SMx", "+14017122661", "hi")).send().await.unwrap();
    assert_eq!(bad.status(), 403);
    let (status, _) = post_form(&host, "sms", SMS_URL, "", "From=%2B14017122661&Body=hi").await;
    assert_eq!(status, 400);
    assert_eq!(messages(&host, &token, conversation["id"].as_str().unwrap()).await.len(), 1);

    // MMS with two media items.
    let mms = switchboard_sdk::form::Form::encode([
        ("MessageSid", "MM1"), ("From", "+14017122661"), ("To", "+15558675310"), ("Body", "look"), ("NumMedia", "2"),
        ("MediaUrl0", "https://api.twilio.com/media/1"), ("MediaContentType0", "image/jpeg"),
        ("MediaUrl1", "https://api.twilio.com/media/2"), ("MediaContentType1", "video/mp4"),
    ]);
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &mms).await.0, 200);
    let stored = messages(&host, &token, conversation["id"].as_str().unwrap()).await;
    let mms = stored.iter().find(|m| m["provider_message_id"] == "MM1").unwrap();
    assert_eq!(mms["parts"][1]["media"]["kind"], "image");
    assert_eq!(mms["parts"][2]["media"]["kind"], "video");
    assert_eq!(mms["parts"][2]["media"]["mime_type"], "video/mp4");

    // STOP opts the customer out: sends are refused until START.
    let path = format!("/v1/conversations/{}/messages", conversation["id"].as_str().unwrap());
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &sms_form("SMstop", "+14017122661", "Stop")).await.0, 200);
    let (status, refused) = host.api_send("POST", &token, &path, &json!({ "text": "one more deal" })).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("opted_out")));
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &sms_form("SMhelp", "+14017122661", "HELP")).await.0, 200);
    let (status, _) = host.api_send("POST", &token, &path, &json!({ "text": "still out" })).await;
    assert_eq!(status, 422, "HELP does not opt back in");
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &sms_form("SMstart", "+14017122661", "START")).await.0, 200);
    let (status, _) = host.api_send("POST", &token, &path, &json!({ "text": "welcome back" })).await;
    assert_eq!(status, 202);
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{}", conversation["contact_id"].as_str().unwrap())).await;
    let consent: Vec<Value> = contact["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "consent").map(|t| t["data"]["status"].clone()).collect();
    assert_eq!(consent, vec![json!("opt_out"), json!("opt_in")]);
}

async fn wait_message(host: &TestHost, token: &str, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    host.eventually(&format!("message {id}"), || async {
        let (_, m) = host.api_get(token, &format!("/v1/messages/{id}")).await;
        check(&m).then_some(m)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_sends_segments_status_callbacks_and_21610() {
    let api = twilio().await;
    let (host, _dir) = host_with(&api, None).await;
    let (_, token) = token(&host, "acme", "agent").await;
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &sms_form("SM1", "+14017122661", "hello")).await.0, 200);
    let conversation = conversations(&host, &token).await[0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/conversations/{conversation}/messages");

    let long_unicode = "Grüße aus München! Ihre Bestellung ist unterwegs. 📦 ".repeat(3);
    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": long_unicode })).await;
    let id = sent["id"].as_str().unwrap().to_string();
    let m = wait_message(&host, &token, &id, |m| m["provider_message_id"].is_string()).await;
    assert_eq!(m["segments"], 3, "UCS-2: 162 UTF-16 units in parts of 67");
    let request = &api.requests()[0];
    let form = switchboard_sdk::form::Form::parse(&request.body);
    assert_eq!(form.get("To"), Some("+14017122661"));
    assert_eq!(form.get("From"), Some("+15558675310"));
    assert_eq!(form.get("Body"), Some(long_unicode.as_str()));
    assert_eq!(form.get("StatusCallback"), Some("http://127.0.0.1/hooks/sms"));

    // Status callbacks move it on; the documented sample and an undelivered one with its code.
    let sid = m["provider_message_id"].as_str().unwrap().to_string();
    for status in ["queued", "sent", "delivered"] {
        let form = switchboard_sdk::form::Form::encode([("MessageSid", sid.as_str()), ("MessageStatus", status), ("To", "+14017122661"), ("From", "+15558675310")]);
        assert_eq!(post_form(&host, "sms", SMS_URL, "", &form).await.0, 200);
    }
    assert_eq!(host.api_get(&token, &format!("/v1/messages/{id}")).await.1["status"], "delivered");
    let unknown = switchboard_sdk::form::Form::encode([("MessageSid", sid.as_str()), ("MessageStatus", "teleported")]);
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &unknown).await.0, 200, "an unknown status is acknowledged");
    let documented = String::from_utf8(fixture("twilio-sms-status-sent-docs.form")).unwrap();
    assert_eq!(post_form(&host, "sms", SMS_URL, "", &documented).await.0, 200);

    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": "will bounce" })).await;
    let bounce = sent["id"].as_str().unwrap().to_string();
    let m = wait_message(&host, &token, &bounce, |m| m["provider_message_id"].is_string()).await;
    let form = switchboard_sdk::form::Form::encode([("MessageSid", m["provider_message_id"].as_str().unwrap()), ("MessageStatus", "undelivered"), ("ErrorCode", "30007")]);
    post_form(&host, "sms", SMS_URL, "", &form).await;
    let m = host.api_get(&token, &format!("/v1/messages/{bounce}")).await.1;
    assert_eq!((m["status"].as_str(), m["error"]["code"].as_str()), (Some("failed"), Some("30007")));

    // 429 is retried; 21610 fails the message and opts the customer out.
    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": "busy" })).await;
    wait_message(&host, &token, sent["id"].as_str().unwrap(), |m| m["status"] == "queued").await;
    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": "unsubscribed" })).await;
    let failed = wait_message(&host, &token, sent["id"].as_str().unwrap(), |m| m["status"] == "failed").await;
    assert_eq!((failed["error"]["category"].as_str(), failed["error"]["code"].as_str()), (Some("opted_out"), Some("21610")));
    let (status, refused) = host.api_send("POST", &token, &path, &json!({ "text": "again" })).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("opted_out")));
}

fn voice_form(call: &str, from: &str, status: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![("CallSid", call), ("AccountSid", SID), ("From", from), ("To", "+15558675310"), ("Direction", "inbound"), ("CallStatus", status)];
    pairs.extend_from_slice(extra);
    switchboard_sdk::form::Form::encode(pairs)
}

async fn agent_available(host: &TestHost, token: &str, address: &str) {
    let (status, me) = host.api_send("PUT", token, "/v1/me/presence", &json!({ "presence": "available", "capacity": { "voice": 1 }, "voice_address": address })).await;
    assert_eq!(status, 200, "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_connect_queue_and_go_to_voicemail() {
    let api = twilio().await;
    let (host, _dir) = host_with(&api, None).await;
    let (_, token) = token(&host, "acme", "agent").await;

    // No agent: voicemail. The fixture call, signed for the proxy's public URL.
    let response = host
        .client
        .post(format!("{}/hooks/voice", host.base))
        .header("x-twilio-signature", "EWH1o5s7Ajw7TBZriFV5imuhmOQ=")
        .body(fixture("twilio-voice-incoming.form"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/xml");
    let twiml = response.text().await.unwrap();
    assert_eq!(xml_elements(&twiml), vec!["Response", "Say", "Record", "Say", "Hangup"], "{twiml}");
    assert!(twiml.contains("No agents are available"));
    assert!(twiml.contains("transcribeCallback=\"http://127.0.0.1/hooks/voice?event=transcription\""));

    // The voicemail's recording and transcript become a message with the recording attached.
    let recorded = voice_form("CA5f1b6c2d3e4f5a6b7c8d9e0f1a2b3c4d", "+14155551212", "in-progress", &[("RecordingUrl", "https://api.twilio.com/rec/RE1"), ("RecordingSid", "RE1")]);
    let (status, twiml) = post_form(&host, "voice", VOICE_URL, "event=recorded", &recorded).await;
    assert_eq!(status, 200);
    assert_eq!(xml_elements(&twiml), vec!["Response", "Say", "Hangup"]);
    let transcribed = voice_form("CA5f1b6c2d3e4f5a6b7c8d9e0f1a2b3c4d", "+14155551212", "completed", &[("TranscriptionText", "Hi, please call me back about my order."), ("TranscriptionStatus", "completed"), ("RecordingUrl", "https://api.twilio.com/rec/RE1"), ("RecordingSid", "RE1")]);
    assert_eq!(post_form(&host, "voice", VOICE_URL, "event=transcription", &transcribed).await.0, 200);
    assert_eq!(post_form(&host, "voice", VOICE_URL, "event=transcription", &transcribed).await.0, 200, "a redelivery");
    let completed = String::from_utf8(fixture("twilio-voice-status-completed.form")).unwrap();
    let (status, _) = post_form(&host, "voice", VOICE_URL, "", &completed).await;
    assert_eq!(status, 200);
    let strange = voice_form("CA5f1b6c2d3e4f5a6b7c8d9e0f1a2b3c4d", "+14155551212", "teleported", &[]);
    assert_eq!(post_form(&host, "voice", VOICE_URL, "event=status", &strange).await.0, 200, "an unknown CallStatus is stored as it is");
    let voice_conversation = conversations(&host, &token).await[0].clone();
    assert_eq!(voice_conversation["tier"], "immediate");
    let stored = messages(&host, &token, voice_conversation["id"].as_str().unwrap()).await;
    assert_eq!(stored.len(), 1, "one voicemail, whatever the redeliveries");
    assert_eq!(stored[0]["parts"][0]["text"], "Hi, please call me back about my order.");
    assert_eq!(stored[0]["parts"][1]["media"]["url"], "https://api.twilio.com/rec/RE1");
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{}", voice_conversation["contact_id"].as_str().unwrap())).await;
    let statuses: Vec<Value> = contact["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "call").filter_map(|t| t["data"]["update"].get("status").cloned()).collect();
    assert_eq!(statuses, vec![json!("ringing"), json!("completed"), json!("teleported")]);
    assert_eq!(contact["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "call" && t["data"]["update"]["duration_seconds"] == 127).count(), 1);

    // An available agent takes the next call; the one after waits in the queue, told its place.
    agent_available(&host, &token, "client:alice").await;
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "", &voice_form("CA2", "+14155550002", "ringing", &[])).await;
    assert_eq!(xml_elements(&twiml), vec!["Response", "Say", "Dial", "Client"], "{twiml}");
    assert!(twiml.contains("<Client>alice</Client>"));
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "", &voice_form("CA3", "+14155550003", "ringing", &[])).await;
    assert_eq!(xml_elements(&twiml), vec!["Response", "Say", "Enqueue"], "{twiml}");
    assert!(twiml.contains("You are number 1 in the queue. The expected wait is about 3 minutes."), "{twiml}");
    // The first call ends: the agent is free again.
    post_form(&host, "voice", VOICE_URL, "event=status", &voice_form("CA2", "+14155550002", "completed", &[("CallDuration", "60")])).await;
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "", &voice_form("CA4", "+14155550004", "ringing", &[])).await;
    assert!(twiml.contains("<Client>alice</Client>"), "{twiml}");
    // The agent does not answer: the caller leaves a voicemail.
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "event=dial", &voice_form("CA4", "+14155550004", "in-progress", &[("DialCallStatus", "no-answer")])).await;
    assert_eq!(xml_elements(&twiml), vec!["Response", "Say", "Record", "Say", "Hangup"]);

    // Bad requests.
    let (status, _) = post_form(&host, "voice", VOICE_URL, "", "From=%2B1&To=%2B2").await;
    assert_eq!(status, 400, "CallSid is required");
    let bad = host.client.post(format!("{}/hooks/voice", host.base)).header("x-twilio-signature", "bad").body(voice_form("CA9", "+1", "ringing", &[])).send().await.unwrap();
    assert_eq!(bad.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ivr_menu_gathers_then_routes() {
    let api = twilio().await;
    let menu = r#"{"prompt": "For sales press 1. For support press 2.", "options": {"1": "sales", "2": "support"}}"#;
    let (host, _dir) = host_with(&api, Some(menu)).await;
    let (_, token) = token(&host, "acme", "agent").await;
    agent_available(&host, &token, "sip:alice@pbx.example.com").await;
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "", &voice_form("CA1", "+14155550001", "ringing", &[])).await;
    assert_eq!(xml_elements(&twiml), vec!["Response", "Gather", "Say", "Redirect"], "{twiml}");
    assert!(twiml.contains("input=\"dtmf speech\"") && twiml.contains("For sales press 1."));
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "event=menu", &voice_form("CA1", "+14155550001", "in-progress", &[("Digits", "2")])).await;
    assert_eq!(xml_elements(&twiml), vec!["Response", "Say", "Dial", "Sip"], "{twiml}");
    assert!(twiml.contains("<Sip>sip:alice@pbx.example.com</Sip>"));
    let (_, twiml) = post_form(&host, "voice", VOICE_URL, "event=menu", &voice_form("CA5", "+14155550005", "in-progress", &[("SpeechResult", "Support please"), ("Confidence", "0.9")])).await;
    assert!(twiml.contains("<Enqueue>support</Enqueue>"), "{twiml}");
    let contact = conversations(&host, &token).await.iter().map(|c| c["contact_id"].clone()).next().unwrap();
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{}", contact.as_str().unwrap())).await;
    assert!(contact["timeline"].as_array().unwrap().iter().any(|t| t["data"]["update"]["speech"] == "Support please" || t["data"]["update"]["digits"] == "2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_customer_across_whatsapp_and_voice_and_escalation_to_a_call() {
    let api = twilio().await;
    let (host, _dir) = host_with(&api, None).await;
    let (agent, token) = token(&host, "acme", "agent").await;
    agent_available(&host, &token, "client:maria").await;

    // The customer writes on WhatsApp from +1 415 555 1212 ...
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "15558675310", "phone_number_id": "1" },
        "contacts": [{ "profile": { "name": "Sam" }, "wa_id": "14155551212" }],
        "messages": [{ "from": "14155551212", "id": "wamid.SAM1", "timestamp": "1750000000", "type": "text", "text": { "body": "My order is late" } }] } }] }] }).to_string();
    assert_eq!(host.post_hook("wa", body.clone(), &[("x-hub-signature-256", &sign_sha256(WA_SECRET, body.as_bytes()))]).await.status(), 200);
    let wa_conversation = conversations(&host, &token).await[0].clone();
    let wa_id = wa_conversation["id"].as_str().unwrap().to_string();
    host.api_send("POST", &token, &format!("/v1/conversations/{wa_id}/claim"), &json!({})).await;

    // ... then calls from the same number: the same customer, one timeline.
    post_form(&host, "voice", VOICE_URL, "", &voice_form("CAsam", "+14155551212", "ringing", &[])).await;
    let all = conversations(&host, &token).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["contact_id"], all[1]["contact_id"], "one customer on WhatsApp and voice");
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{}", wa_conversation["contact_id"].as_str().unwrap())).await;
    let kinds: Vec<&str> = contact["timeline"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"message") && kinds.contains(&"call"), "{kinds:?}");
    let channels: Vec<&str> = contact["identities"].as_array().unwrap().iter().map(|i| i["channel_id"].as_str().unwrap()).collect();
    assert_eq!(channels, vec!["wa", "voice"]);
    post_form(&host, "voice", VOICE_URL, "event=status", &voice_form("CAsam", "+14155551212", "completed", &[])).await;

    // From the WhatsApp conversation, the agent asks for a call.
    let (status, answer) = host.api_send("POST", &token, &format!("/v1/conversations/{wa_id}/call"), &json!({})).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["call_id"], "CAoutbound0000000000000000000000001");
    let placed = api.requests().into_iter().find(|r| r.uri.path().ends_with("/Calls.json")).unwrap();
    let form = switchboard_sdk::form::Form::parse(&placed.body);
    assert_eq!(form.get("To"), Some("+14155551212"));
    assert_eq!(form.get("From"), Some("+15558675310"));
    assert_eq!(form.get("Url"), Some(format!("http://127.0.0.1/hooks/voice?event=outbound&reference={wa_id}").as_str()));
    let events: Vec<&str> = form.pairs.iter().filter(|(k, _)| k == "StatusCallbackEvent").map(|(_, v)| v.as_str()).collect();
    assert_eq!(events, vec!["initiated", "ringing", "answered", "completed"]);

    // The customer answers: the agent who asked is rung, and the call joins the conversation.
    let outbound = |status: &str| {
        switchboard_sdk::form::Form::encode([("CallSid", "CAoutbound0000000000000000000000001"), ("AccountSid", SID), ("From", "+15558675310"), ("To", "+14155551212"), ("Direction", "outbound-api"), ("CallStatus", status)])
    };
    let (status, twiml) = post_form(&host, "voice", VOICE_URL, &format!("event=outbound&reference={wa_id}"), &outbound("in-progress")).await;
    assert_eq!(status, 200);
    assert!(twiml.contains("<Client>maria</Client>"), "{twiml}");
    post_form(&host, "voice", VOICE_URL, &format!("event=status&reference={wa_id}"), &outbound("completed")).await;
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{}", wa_conversation["contact_id"].as_str().unwrap())).await;
    let in_conversation: Vec<&Value> = contact["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "call" && t["conversation_id"] == json!(wa_id)).collect();
    assert_eq!(in_conversation.len(), 2, "in-progress and completed, in the WhatsApp conversation");
    assert!(contact["timeline"].as_array().unwrap().iter().any(|t| t["kind"] == "call.requested" && t["data"]["requested_by"] == json!(agent)));
}
