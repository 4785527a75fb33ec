//! The WhatsApp connector end to end: Meta's payloads in through the host, sends out to a fake
//! Graph API that checks requests the way Meta documents them.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use switchboard_tests::*;

const APP_SECRET: &str = "test_app_secret";
const TOKEN: &str = "EAAG-test-token";
const PHONE_ID: &str = "106540352242922";

/// A fake Graph API: messages, media upload, media lookup and download.
async fn graph() -> FakeProvider {
    let rate_limited = Arc::new(AtomicUsize::new(0));
    FakeProvider::start(move |r, n| {
        let host = r.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("").to_string();
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let error = |status: u16, code: i64, message: &str| {
            (status, "application/json", json!({ "error": { "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "A1" } }).to_string())
        };
        if auth != format!("Bearer {TOKEN}") {
            return error(401, 190, "Error validating access token: Session has expired");
        }
        let path = r.uri.path();
        match (r.method.as_str(), path) {
            ("POST", p) if p == format!("/v21.0/{PHONE_ID}/messages") => {
                let body: Value = match serde_json::from_slice(&r.body) {
                    Ok(b) => b,
                    Err(_) => return error(400, 100, "Invalid JSON"),
                };
                if body["messaging_product"] != "whatsapp" {
                    return error(400, 100, "(#100) The parameter messaging_product is required.");
                }
                if body.get("status").is_some() {
                    return (200, "application/json", r#"{"success":true}"#.into());
                }
                let kind = body["type"].as_str().unwrap_or("");
                if body["to"].as_str().is_none() || body.get(kind).is_none() {
                    return error(400, 100, "(#100) Invalid parameter");
                }
                match body["text"]["body"].as_str() {
                    Some("slow down") if rate_limited.fetch_add(1, Ordering::SeqCst) == 0 => {
                        return error(400, 130429, "(#130429) Rate limit hit");
                    }
                    Some("expired") => return error(401, 190, "Error validating access token: Session has expired"),
                    _ => {}
                }
                (200, "application/json", json!({ "messaging_product": "whatsapp", "contacts": [{ "input": body["to"], "wa_id": "16505551234" }], "messages": [{ "id": format!("wamid.OUT{n}") }] }).to_string())
            }
            ("POST", p) if p == format!("/v21.0/{PHONE_ID}/media") => {
                let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
                let body = String::from_utf8_lossy(&r.body);
                if !ct.starts_with("multipart/form-data; boundary=") || !body.contains("name=\"messaging_product\"\r\n\r\nwhatsapp") || !body.contains("name=\"file\"; filename=") {
                    return error(400, 100, "upload must be multipart with messaging_product and file");
                }
                (200, "application/json", r#"{"id":"uploaded-media-7"}"#.into())
            }
            ("GET", p) if p.starts_with("/v21.0/") => {
                let id = p.trim_start_matches("/v21.0/");
                (200, "application/json", json!({ "url": format!("http://{host}/media-bytes/{id}"), "mime_type": "image/jpeg", "sha256": "x", "file_size": 8, "id": id, "messaging_product": "whatsapp" }).to_string())
            }
            ("GET", p) if p.starts_with("/media-bytes/") => (200, "image/jpeg", "JPEGDATA".into()),
            _ => error(404, 100, "Unknown path"),
        }
    })
    .await
}

async fn whatsapp_host(graph: &FakeProvider) -> (TestHost, tempfile::TempDir) {
    whatsapp_host_at(&graph.url()).await
}

/// A host whose WhatsApp channel calls the Graph API at `graph_url`.
async fn whatsapp_host_at(graph_url: &str) -> (TestHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_on(Backend::Sqlite, dir.path()).await;
    config.runtime.connectors = vec![connector("whatsapp")];
    let mut ch = channel(
        "wa",
        "acme",
        "whatsapp",
        &[("app-secret", APP_SECRET), ("verify-token", "meatyhamhock"), ("access-token", TOKEN), ("phone-number-id", PHONE_ID), ("graph-api-base-url", graph_url)],
    );
    ch.allow_private_egress = true;
    config.channels.push(ch);
    (TestHost::start(config).await, dir)
}

async fn post_signed(host: &TestHost, body: &[u8]) -> reqwest::Response {
    host.post_hook("wa", body.to_vec(), &[("x-hub-signature-256", &sign_sha256(APP_SECRET, body)), ("content-type", "application/json")]).await
}

fn envelope(messages: Value, statuses: Value) -> Vec<u8> {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_ID },
        "contacts": [{ "profile": { "name": "Sheena Nelson" }, "wa_id": "16505551234" }],
        "messages": messages, "statuses": statuses } }] }] })
    .to_string()
    .into_bytes()
}

async fn all_messages(host: &TestHost, token: &str) -> Vec<Value> {
    let (_, page) = host.api_get(token, "/v1/conversations").await;
    let mut out = Vec::new();
    for c in page["items"].as_array().unwrap() {
        let (_, full) = host.api_get(token, &format!("/v1/conversations/{}", c["id"].as_str().unwrap())).await;
        out.extend(full["messages"].as_array().unwrap().iter().cloned());
    }
    out
}

fn by_provider_id<'a>(messages: &'a [Value], id: &str) -> &'a Value {
    messages.iter().find(|m| m["provider_message_id"] == id).unwrap_or_else(|| panic!("no message {id}"))
}

#[test]
fn meta_official_signature_vector() {
    let digest = switchboard_sdk::signature::hmac_sha256(b"TEST_APP_SECRET", b"test");
    assert_eq!(hex::encode(digest), "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_handshake() {
    let graph = graph().await;
    let (host, _dir) = whatsapp_host(&graph).await;
    let ok = host.get("/hooks/wa?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let wrong = host.get("/hooks/wa?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=WRONG").await;
    assert_eq!(wrong.status(), 403);
    let not_subscribe = host.get("/hooks/wa?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=meatyhamhock").await;
    assert_eq!(not_subscribe.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_fixtures_verify_over_their_exact_bytes_and_are_stored() {
    let graph = graph().await;
    let (host, _dir) = whatsapp_host(&graph).await;
    let (_, token) = token(&host, "acme", "agent").await;
    // Meta's text and image samples share one wamid: the second one posted is a duplicate.
    for name in [
        "whatsapp-image.json",
        "whatsapp-text.json",
        "whatsapp-interactive-button-reply.json",
        "whatsapp-interactive-list-reply.json",
        "whatsapp-unsupported.json",
        "whatsapp-text-legacy-example.json",
        "whatsapp-status-sent.json",
        "whatsapp-status-failed.json",
    ] {
        let body = fixture(name);
        let response = host.post_hook("wa", body.clone(), &[("x-hub-signature-256", &meta_signature_of(name))]).await;
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(response.text().await.unwrap(), "EVENT_RECEIVED");
        // The fixture's listed signature is exactly ours.
        assert_eq!(meta_signature_of(name), sign_sha256(APP_SECRET, &body), "{name}");
    }
    let messages = all_messages(&host, &token).await;
    let shared_id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
    assert_eq!(messages.iter().filter(|m| m["provider_message_id"] == shared_id).count(), 1, "one message per wamid");
    assert_eq!(by_provider_id(&messages, shared_id)["parts"][0]["type"], "media");
    let button = by_provider_id(&messages, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA=");
    assert_eq!(button["parts"][0], json!({ "type": "interactive_reply", "kind": "button", "id": "cancel-button", "title": "Cancel" }));
    assert_eq!(button["reply_to"], "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA");
    let unsupported = by_provider_id(&messages, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTk5RDBFNzM4RjM3QzcxQUM2NwA=");
    assert_eq!(unsupported["parts"][0]["type"], "unsupported");
    assert_eq!(unsupported["parts"][0]["reason"], "Message type is currently not supported.");
    assert!(unsupported["parts"][0]["raw"].as_str().unwrap().contains("131051"));
    let legacy = by_provider_id(&messages, "wamid.ABGGFlCGg0cvAgo-sJQh43L5Pe4W");
    assert_eq!(legacy["parts"][0], json!({ "type": "text", "text": "Hello this is an answer" }));

    // The contact's profile name and wa_id became the customer's identity.
    let (_, page) = host.api_get(&token, "/v1/contacts?q=sheena").await;
    let contact = &page["items"][0];
    assert_eq!(contact["phone"], "+16505551234");
    let (_, full) = host.api_get(&token, &format!("/v1/contacts/{}", contact["id"].as_str().unwrap())).await;
    assert_eq!(full["identities"][0]["provider_id"], "16505551234");

    // The image was downloaded by id through the Graph API and kept as an attachment.
    let image_part = host
        .eventually("the image download", || {
            let (host, token) = (&host, &token);
            async move {
                let messages = all_messages(host, token).await;
                messages.iter().flat_map(|m| m["parts"].as_array().unwrap().clone()).find(|p| p["type"] == "media" && p["media"]["attachment_id"].is_string())
            }
        })
        .await;
    assert_eq!(image_part["media"]["caption"], "Taj Mahal");
    assert_eq!(image_part["media"]["provider_media_id"], "1003383421387256");
    let attachment = image_part["media"]["attachment_id"].as_str().unwrap();
    let download = host.client.get(format!("{}/v1/attachments/{attachment}", host.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(download.headers()["content-type"], "image/jpeg");
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"JPEGDATA");
    let lookups: Vec<String> = graph.requests().iter().filter(|r| r.method == "GET").map(|r| r.uri.path().to_string()).collect();
    assert_eq!(lookups, vec!["/v21.0/1003383421387256".to_string(), "/media-bytes/1003383421387256".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escaped_unicode_verifies_over_raw_bytes_and_not_re_serialized() {
    let graph = graph().await;
    let (host, _dir) = whatsapp_host(&graph).await;
    let (_, token) = token(&host, "acme", "agent").await;
    // Meta escapes non-ASCII as \uXXXX with lowercase hex.
    let raw = String::from_utf8(envelope(json!([{ "from": "16505551234", "id": "wamid.U1", "timestamp": "1750000000", "type": "text", "text": { "body": "PLACEHOLDER" } }]), json!([]))).unwrap();
    let raw = raw.replace("PLACEHOLDER", "Caf\\u00e9 \\ud83d\\ude00");
    let signature = sign_sha256(APP_SECRET, raw.as_bytes());
    let reserialized = serde_json::to_string(&serde_json::from_str::<Value>(&raw).unwrap()).unwrap();
    assert_ne!(reserialized, raw);
    let refused = host.post_hook("wa", reserialized, &[("x-hub-signature-256", &signature)]).await;
    assert_eq!(refused.status(), 401);
    let accepted = host.post_hook("wa", raw, &[("x-hub-signature-256", &signature)]).await;
    assert_eq!(accepted.status(), 200);
    let messages = all_messages(&host, &token).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["parts"][0]["text"], "Café 😀");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_inbound_type_and_a_broken_message_in_one_envelope() {
    let graph = graph().await;
    let (host, _dir) = whatsapp_host(&graph).await;
    let (_, token) = token(&host, "acme", "agent").await;
    let from = "16505551234";
    let m = |id: &str, kind: &str, body: Value| {
        let mut msg = json!({ "from": from, "id": id, "timestamp": "1750000000", "type": kind });
        msg[kind] = body;
        msg
    };
    let messages = json!([
        m("w.audio", "audio", json!({ "mime_type": "audio/ogg; codecs=opus", "sha256": "a", "id": "m-audio", "voice": true })),
        m("w.video", "video", json!({ "mime_type": "video/mp4", "sha256": "b", "id": "m-video", "caption": "clip" })),
        m("w.doc", "document", json!({ "mime_type": "application/pdf", "sha256": "c", "id": "m-doc", "filename": "invoice.pdf", "caption": "inv" })),
        m("w.sticker", "sticker", json!({ "mime_type": "image/webp", "sha256": "d", "id": "m-sticker", "animated": false })),
        m("w.loc", "location", json!({ "latitude": 38.9, "longitude": -77.03, "name": "Office", "address": "1 Main St" })),
        m("w.contacts", "contacts", json!([{ "name": { "formatted_name": "John Smith", "first_name": "John" }, "phones": [{ "phone": "+1 555 0100", "type": "CELL", "wa_id": "15550100" }], "emails": [{ "email": "j@example.com" }], "org": { "company": "Acme" } }])),
        m("w.list", "interactive", json!({ "type": "list_reply", "list_reply": { "id": "row-2", "title": "Tuesday", "description": "after noon" } })),
        m("w.tbutton", "button", json!({ "payload": "CONFIRM", "text": "Yes, confirm" })),
        m("w.react", "reaction", json!({ "message_id": "wamid.OUT1", "emoji": "👍" })),
        m("w.unreact", "reaction", json!({ "message_id": "wamid.OUT1" })),
        m("w.order", "order", json!({ "catalog_id": "c1", "product_items": [] })),
        m("w.future", "hologram", json!({ "frequency": 3 })),
        m("w.broken", "location", json!({ "name": "no coordinates" })),
        { "from": from, "id": "w.ad", "timestamp": "1750000001", "type": "text", "text": { "body": "from an ad" },
          "referral": { "source_url": "https://fb.me/ad", "source_id": "ad-9", "source_type": "ad", "headline": "Sale", "body": "50% off", "ctwa_clid": "clid-1" },
          "context": { "from": "15550783881", "id": "wamid.OUT0", "forwarded": true } }
    ]);
    let statuses = json!([{ "id": "wamid.unknown-yet", "status": "delivered", "timestamp": "1750000002", "recipient_id": from }]);
    let response = post_signed(&host, &envelope(messages, statuses)).await;
    assert_eq!(response.status(), 200);

    let stored = all_messages(&host, &token).await;
    assert_eq!(stored.len(), 12, "every message but the two reactions is a message");
    let part = |id: &str| by_provider_id(&stored, id)["parts"][0].clone();
    assert_eq!(part("w.audio")["media"]["kind"], "voice");
    assert_eq!(part("w.video")["media"]["caption"], "clip");
    assert_eq!(part("w.doc")["media"]["filename"], "invoice.pdf");
    assert_eq!(part("w.sticker")["media"]["kind"], "sticker");
    assert_eq!(part("w.loc")["latitude"], 38.9);
    assert_eq!(part("w.loc")["name"], "Office");
    assert_eq!(part("w.contacts")["contacts"][0]["name"], "John Smith");
    assert_eq!(part("w.contacts")["contacts"][0]["phones"][0], "+1 555 0100");
    assert_eq!(part("w.contacts")["contacts"][0]["organization"], "Acme");
    assert_eq!(part("w.list"), json!({ "type": "interactive_reply", "kind": "list_row", "id": "row-2", "title": "Tuesday", "description": "after noon" }));
    assert_eq!(part("w.tbutton"), json!({ "type": "interactive_reply", "kind": "template_button", "id": "CONFIRM", "title": "Yes, confirm" }));
    assert_eq!(part("w.order")["type"], "unsupported");
    assert_eq!(part("w.future")["type"], "unsupported");
    assert_eq!(part("w.future")["type_name"], "hologram");
    let broken = part("w.broken");
    assert_eq!(broken["type"], "unsupported");
    assert!(broken["reason"].as_str().unwrap().contains("latitude"));
    assert!(broken["raw"].as_str().unwrap().contains("no coordinates"), "raw JSON kept for operators");
    let ad = by_provider_id(&stored, "w.ad");
    assert_eq!(ad["extra"]["referral"]["source_id"], "ad-9");
    assert_eq!(ad["extra"]["metadata"]["ctwa-clid"], "clid-1");
    assert_eq!(ad["extra"]["metadata"]["forwarded"], "true");
    assert_eq!(ad["reply_to"], "wamid.OUT0");

    // Reactions and their removal are on the contact's timeline.
    let (_, page) = host.api_get(&token, "/v1/contacts?q=%2B16505551234").await;
    let (_, full) = host.api_get(&token, &format!("/v1/contacts/{}", page["items"][0]["id"].as_str().unwrap())).await;
    let reactions: Vec<Value> = full["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "reaction").map(|t| t["data"]["emoji"].clone()).collect();
    assert_eq!(reactions, vec![json!("👍"), Value::Null]);

    // Broken envelopes: bad JSON with a good signature is 400; bad signatures are 401.
    assert_eq!(post_signed(&host, b"{not json").await.status(), 400);
    let body = envelope(json!([]), json!([]));
    assert_eq!(host.post_hook("wa", body.clone(), &[("x-hub-signature-256", &sign_sha256("wrong", &body))]).await.status(), 401);
    assert_eq!(host.post_hook("wa", body.clone(), &[]).await.status(), 401);
    assert_eq!(all_messages(&host, &token).await.len(), 12, "nothing more stored");
}

async fn conversation_with_customer(host: &TestHost, token: &str) -> (String, String) {
    let body = envelope(json!([{ "from": "16505551234", "id": "wamid.IN1", "timestamp": "1750000000", "type": "text", "text": { "body": "hi" } }]), json!([]));
    assert_eq!(post_signed(host, &body).await.status(), 200);
    let (_, page) = host.api_get(token, "/v1/conversations").await;
    let conversation = page["items"][0]["id"].as_str().unwrap().to_string();
    let (_, full) = host.api_get(token, &format!("/v1/conversations/{conversation}")).await;
    (conversation, full["messages"][0]["id"].as_str().unwrap().to_string())
}

async fn wait_status(host: &TestHost, token: &str, id: &str, status: &str) -> Value {
    host.eventually(&format!("message {id} to be {status}"), || async move {
        let (_, m) = host.api_get(token, &format!("/v1/messages/{id}")).await;
        (m["status"] == status).then_some(m)
    })
    .await
}

fn sent_bodies(graph: &FakeProvider) -> Vec<Value> {
    graph
        .requests()
        .iter()
        .filter(|r| r.uri.path() == format!("/v21.0/{PHONE_ID}/messages"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_every_kind_as_the_graph_api_documents() {
    let graph = graph().await;
    let (host, _dir) = whatsapp_host(&graph).await;
    let (_, token) = token(&host, "acme", "agent").await;
    let (conversation, inbound_id) = conversation_with_customer(&host, &token).await;
    let path = format!("/v1/conversations/{conversation}/messages");

    let upload = host
        .client
        .post(format!("{}/v1/attachments?filename=photo.jpg", host.base))
        .bearer_auth(&token)
        .header("content-type", "image/jpeg")
        .body("RAWJPEG")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 201);
    let attachment = upload.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    let requests = [
        json!({ "text": "Hello Sheena", "reply_to": inbound_id }),
        json!({ "content": { "type": "media", "media": { "kind": "image", "url": "https://cdn.example.com/a.jpg", "caption": "look" } } }),
        json!({ "content": { "type": "media", "media": { "kind": "image", "attachment_id": attachment } } }),
        json!({ "content": { "type": "template", "template": { "name": "order_update", "language": "en_US", "components": [{ "kind": "body", "parameters": [{ "type": "text", "text": "Sheena" }, { "type": "text", "text": "#1234" }] }] } } }),
        json!({ "content": { "type": "interactive", "interactive": { "body": "Pick one", "buttons": [{ "id": "yes", "title": "Yes" }, { "id": "no", "title": "No" }] } } }),
        json!({ "content": { "type": "interactive", "interactive": { "header": "Slots", "body": "When?", "footer": "Times are local", "list": { "button": "Choose", "sections": [{ "title": "Tue", "rows": [{ "id": "t1", "title": "10:00", "description": "morning" }] }] } } } }),
    ];
    let mut ids = Vec::new();
    for request in &requests {
        let (status, answer) = host.api_send("POST", &token, &path, request).await;
        assert_eq!(status, 202, "{request}: {answer}");
        ids.push(answer["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        wait_status(&host, &token, id, "queued").await;
    }
    let bodies = sent_bodies(&graph);
    assert_eq!(bodies.len(), 6);
    let find = |kind: &str| bodies.iter().filter(|b| b["type"] == kind).cloned().collect::<Vec<_>>();
    let text = &find("text")[0];
    assert_eq!(text["to"], "16505551234");
    assert_eq!(text["recipient_type"], "individual");
    assert_eq!(text["text"]["body"], "Hello Sheena");
    assert_eq!(text["context"]["message_id"], "wamid.IN1");
    let images: Vec<Value> = find("image").into_iter().map(|b| b["image"].clone()).collect();
    assert!(images.contains(&json!({ "link": "https://cdn.example.com/a.jpg", "caption": "look" })), "{images:?}");
    assert!(images.contains(&json!({ "id": "uploaded-media-7" })), "{images:?}");
    let upload = graph.requests().into_iter().find(|r| r.uri.path().ends_with("/media") && r.method == "POST").unwrap();
    assert!(String::from_utf8_lossy(&upload.body).contains("RAWJPEG"));
    assert!(String::from_utf8_lossy(&upload.body).contains("Content-Type: image/jpeg"));
    let template = &find("template")[0]["template"];
    let expected: Value = serde_json::from_slice(&fixture("whatsapp-send-template-request.json")).unwrap();
    assert_eq!(template, &expected["template"], "the same shape as Meta's documented request");
    let interactive = find("interactive");
    let of = |t: &str| interactive.iter().find(|b| b["interactive"]["type"] == t).unwrap()["interactive"].clone();
    assert_eq!(of("button")["action"]["buttons"][1], json!({ "type": "reply", "reply": { "id": "no", "title": "No" } }));
    assert_eq!(of("button")["body"], json!({ "text": "Pick one" }));
    assert_eq!(of("list")["header"], json!({ "type": "text", "text": "Slots" }));
    assert_eq!(of("list")["footer"], json!({ "text": "Times are local" }));
    assert_eq!(of("list")["action"]["button"], "Choose");
    assert_eq!(of("list")["action"]["sections"][0]["rows"][0]["description"], "morning");

    // Typing and mark-read name the customer's last message.
    let response = host.client.post(format!("{}/v1/conversations/{conversation}/typing", host.base)).bearer_auth(&token).json(&json!({ "active": true })).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let typing = sent_bodies(&graph).into_iter().find(|b| b.get("typing_indicator").is_some()).unwrap();
    assert_eq!(typing, json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1", "typing_indicator": { "type": "text" } }));

    let response = host.client.post(format!("{}/v1/conversations/{conversation}/read", host.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert!(sent_bodies(&graph).contains(&json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN1" })));

    // Statuses for what we sent move it forward.
    let sent_wamid = { let (_, m) = host.api_get(&token, &format!("/v1/messages/{}", ids[0])).await; m["provider_message_id"].as_str().unwrap().to_string() };
    let statuses = json!([
        { "id": sent_wamid, "status": "read", "timestamp": "1750000010", "recipient_id": "16505551234" },
        { "id": sent_wamid, "status": "delivered", "timestamp": "1750000009", "recipient_id": "16505551234" }
    ]);
    post_signed(&host, &envelope(json!([]), statuses)).await;
    wait_status(&host, &token, &ids[0], "read").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_api_named_by_a_host_name_is_looked_up_once_for_many_sends() {
    let graph = graph().await;
    // Meta's API is a name (graph.facebook.com), not an address: here the fake's own name.
    let named = graph.url().replace("127.0.0.1", "localhost");
    assert_ne!(named, graph.url());
    let (host, _dir) = whatsapp_host_at(&named).await;
    let (_, token) = token(&host, "acme", "agent").await;
    let (conversation, _) = conversation_with_customer(&host, &token).await;
    let path = format!("/v1/conversations/{conversation}/messages");
    for i in 0..3 {
        let (status, sent) = host.api_send("POST", &token, &path, &json!({ "text": format!("hello {i}") })).await;
        assert_eq!(status, 202, "{sent}");
        wait_status(&host, &token, sent["id"].as_str().unwrap(), "queued").await;
    }
    assert_eq!(sent_bodies(&graph).len(), 3);
    let authority = named.trim_start_matches("http://");
    assert!(graph.requests().iter().all(|r| r.headers["host"] == authority), "each request names the provider's host");
    let metrics = host.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("switchboard_egress_dns_lookups_total 1\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_rate_limits_and_expired_tokens() {
    let graph = graph().await;
    let (host, _dir) = whatsapp_host(&graph).await;
    let (_, token) = token(&host, "acme", "admin").await;
    let (conversation, _) = conversation_with_customer(&host, &token).await;
    let path = format!("/v1/conversations/{conversation}/messages");

    // 130429 is retried, and the retry succeeds.
    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": "slow down" })).await;
    let id = sent["id"].as_str().unwrap().to_string();
    wait_status(&host, &token, &id, "queued").await;
    assert_eq!(sent_bodies(&graph).iter().filter(|b| b["text"]["body"] == "slow down").count(), 2);

    // 190 fails the message with the provider's reason, and the channel shows it.
    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": "expired" })).await;
    let failed = wait_status(&host, &token, sent["id"].as_str().unwrap(), "failed").await;
    assert_eq!(failed["error"]["category"], "auth");
    assert_eq!(failed["error"]["code"], "190");
    let (_, channel) = host.api_get(&token, "/v1/channels/wa").await;
    assert_eq!(channel["health"]["status"], "credentials_refused");
    assert!(channel["settings"]["access-token"] == "********");

    // 131047 on a status closes the reply window: free text is refused, templates still go.
    let (_, sent) = host.api_send("POST", &token, &path, &json!({ "text": "are you there?" })).await;
    let id = sent["id"].as_str().unwrap().to_string();
    let m = wait_status(&host, &token, &id, "queued").await;
    let wamid = m["provider_message_id"].as_str().unwrap();
    let status = json!([{ "id": wamid, "status": "failed", "timestamp": "1750000020", "recipient_id": "16505551234",
        "errors": [{ "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message", "error_data": { "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." } }] }]);
    post_signed(&host, &envelope(json!([]), status)).await;
    let failed = wait_status(&host, &token, &id, "failed").await;
    assert_eq!(failed["error"]["code"], "131047");
    assert_eq!(failed["error"]["title"], "Re-engagement message");
    assert_eq!(failed["error"]["category"], "window_closed");
    let (status, refusal) = host.api_send("POST", &token, &path, &json!({ "text": "hello?" })).await;
    assert_eq!(status, 422);
    assert_eq!(refusal["error"]["code"], "reply_window_closed");
    assert!(refusal["error"]["message"].as_str().unwrap().contains("send a template"));
    let (status, _) = host.api_send("POST", &token, &path, &json!({ "content": { "type": "template", "template": { "name": "hello_world", "language": "en_US" } } })).await;
    assert_eq!(status, 202);
    // A new message from the customer opens the window again.
    let body = envelope(json!([{ "from": "16505551234", "id": "wamid.IN2", "timestamp": "1750000030", "type": "text", "text": { "body": "yes" } }]), json!([]));
    post_signed(&host, &body).await;
    let (status, _) = host.api_send("POST", &token, &path, &json!({ "text": "great" })).await;
    assert_eq!(status, 202);
}
