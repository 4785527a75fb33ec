//! The Instagram connector end to end: direct messages and comments in, sends, the human-agent
//! tag, typing and private replies out to a fake Graph API.

use serde_json::{Value, json};
use switchboard_tests::*;

const APP_SECRET: &str = "test_app_secret";
const TOKEN: &str = "IGQ-test-token";
const ACCOUNT: &str = "17841405822304914";

async fn graph() -> FakeProvider {
    FakeProvider::start(|r, n| {
        let error = |status: u16, code: i64, subcode: Option<i64>, message: &str| {
            (status, "application/json", json!({ "error": { "message": message, "type": "OAuthException", "code": code, "error_subcode": subcode } }).to_string())
        };
        if r.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
            return error(401, 190, None, "Invalid OAuth access token");
        }
        if r.method != "POST" || r.uri.path() != format!("/v21.0/{ACCOUNT}/messages") {
            return error(404, 100, None, "Unknown path");
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let recipient = &body["recipient"];
        if recipient["id"].as_str().is_none() && recipient["comment_id"].as_str().is_none() {
            return error(400, 100, None, "(#100) The parameter recipient is required");
        }
        if body.get("sender_action").is_some() {
            return (200, "application/json", json!({ "recipient_id": recipient["id"] }).to_string());
        }
        match body["messaging_type"].as_str() {
            Some("RESPONSE") => {}
            Some("MESSAGE_TAG") if body["tag"] == "HUMAN_AGENT" => {}
            None if recipient.get("comment_id").is_some() => {}
            _ => return error(400, 100, None, "(#100) messaging_type must be RESPONSE or MESSAGE_TAG with a tag"),
        }
        if body["message"]["text"] == "too late" {
            return error(400, 10, Some(2018278), "(#10) This message is sent outside of allowed window.");
        }
        if body["message"]["text"].as_str().is_none() && body["message"]["attachment"]["payload"]["url"].as_str().is_none() {
            return error(400, 100, None, "(#100) message must have text or an attachment with a url");
        }
        (200, "application/json", json!({ "recipient_id": recipient["id"], "message_id": format!("ig-out-{n}") }).to_string())
    })
    .await
}

async fn instagram_host(graph: &FakeProvider, human_agent_tag: bool) -> (TestHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_on(Backend::Sqlite, dir.path()).await;
    config.runtime.connectors = vec![connector("instagram")];
    let mut ch = channel(
        "ig",
        "acme",
        "instagram",
        &[("app-secret", APP_SECRET), ("verify-token", "vt"), ("access-token", TOKEN), ("instagram-account-id", ACCOUNT), ("graph-api-base-url", &graph.url())],
    );
    ch.allow_private_egress = true;
    ch.human_agent_tag = human_agent_tag;
    config.channels.push(ch);
    (TestHost::start(config).await, dir)
}

async fn post(host: &TestHost, body: &[u8]) -> u16 {
    host.post_hook("ig", body.to_vec(), &[("x-hub-signature-256", &sign_sha256(APP_SECRET, body))]).await.status().as_u16()
}

fn messaging(items: Value) -> Vec<u8> {
    json!({ "object": "instagram", "entry": [{ "id": ACCOUNT, "time": 1750050000123u64, "messaging": items }] }).to_string().into_bytes()
}

fn from_customer(mid: &str, message: Value) -> Value {
    let mut m = message;
    m["mid"] = json!(mid);
    json!({ "sender": { "id": "1254459154682919" }, "recipient": { "id": ACCOUNT }, "timestamp": 1750050000000u64, "message": m })
}

/// The oldest conversation of this thread kind, and the messages of every such conversation.
async fn messages_of(host: &TestHost, token: &str, thread: &str) -> (String, Vec<Value>) {
    let (_, page) = host.api_get(token, "/v1/conversations").await;
    let conversations: Vec<&Value> = page["items"].as_array().unwrap().iter().filter(|c| c["thread"] == thread).collect();
    assert!(!conversations.is_empty(), "no {thread} conversation: {page}");
    let mut messages = Vec::new();
    for c in conversations.iter().rev() {
        let (_, full) = host.api_get(token, &format!("/v1/conversations/{}", c["id"].as_str().unwrap())).await;
        messages.extend(full["messages"].as_array().unwrap().iter().cloned());
    }
    (conversations.last().unwrap()["id"].as_str().unwrap().to_string(), messages)
}

fn find<'a>(messages: &'a [Value], mid: &str) -> &'a Value {
    messages.iter().find(|m| m["provider_message_id"] == mid).unwrap_or_else(|| panic!("no message {mid}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_and_every_direct_message_kind() {
    let graph = graph().await;
    let (host, _dir) = instagram_host(&graph, false).await;
    let (_, token) = token(&host, "acme", "agent").await;
    for name in ["instagram-text.json", "instagram-comment.json"] {
        let response = host.post_hook("ig", fixture(name), &[("x-hub-signature-256", &meta_signature_of(name))]).await;
        assert_eq!(response.status(), 200, "{name}");
    }
    let items = json!([
        from_customer("m.image", json!({ "attachments": [{ "type": "image", "payload": { "url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1" } }] })),
        from_customer("m.video", json!({ "attachments": [{ "type": "video", "payload": { "url": "https://x.cdninstagram.com/v.mp4" } }] })),
        from_customer("m.audio", json!({ "attachments": [{ "type": "audio", "payload": { "url": "https://x.cdninstagram.com/a.mp4" } }] })),
        from_customer("m.file", json!({ "attachments": [{ "type": "file", "payload": { "url": "https://x.cdninstagram.com/f.pdf" } }] })),
        from_customer("m.share", json!({ "attachments": [{ "type": "share", "payload": { "url": "https://www.instagram.com/p/abc/" } }] })),
        from_customer("m.reel", json!({ "attachments": [{ "type": "ig_reel", "payload": { "url": "https://www.instagram.com/reel/xyz/", "title": "Reel", "reel_video_id": "9" } }] })),
        from_customer("m.mention", json!({ "attachments": [{ "type": "story_mention", "payload": { "url": "https://x.cdninstagram.com/story.jpg" } }] })),
        from_customer("m.story-reply", json!({ "text": "love this", "reply_to": { "story": { "url": "https://x.cdninstagram.com/s.jpg", "id": "story-1" } } })),
        from_customer("m.reply", json!({ "text": "yes that one", "reply_to": { "mid": "m.image" } })),
        from_customer("m.quick", json!({ "text": "Red", "quick_reply": { "payload": "COLOR_RED" } })),
        from_customer("m.unsupported", json!({ "is_unsupported": true })),
        from_customer("m.future", json!({ "attachments": [{ "type": "hologram", "payload": {} }] })),
        { "sender": { "id": "1254459154682919" }, "recipient": { "id": ACCOUNT }, "timestamp": 1750050000001u64, "postback": { "mid": "m.postback", "title": "Start", "payload": "GET_STARTED" } },
        { "sender": { "id": "1254459154682919" }, "recipient": { "id": ACCOUNT }, "timestamp": 1750050000002u64, "reaction": { "mid": "m.image", "action": "react", "reaction": "love", "emoji": "❤️" } },
        { "sender": { "id": "1254459154682919" }, "recipient": { "id": ACCOUNT }, "timestamp": 1750050000003u64, "reaction": { "mid": "m.image", "action": "unreact" } },
        { "sender": { "id": ACCOUNT }, "recipient": { "id": "1254459154682919" }, "timestamp": 1750050000004u64, "message": { "mid": "m.echo", "text": "Sent from the Instagram app", "is_echo": true } },
        { "recipient": { "id": ACCOUNT }, "message": { "mid": "m.broken", "text": "no sender" } }
    ]);
    assert_eq!(post(&host, &messaging(items)).await, 200);
    assert_eq!(post(&host, &messaging(json!([from_customer("m.image", json!({ "is_deleted": true }))]))).await, 200);

    let (_, dm) = messages_of(&host, &token, "direct").await;
    let part = |mid: &str| find(&dm, mid)["parts"].clone();
    assert_eq!(part("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTkwNjAyMzk5MzU5NjQ2MTozMTk1OTgwNzY2NTY2NDg3NDY3NjE4NTAzNTMwMDg0MTQ3MgZDZD")[0], json!({ "type": "text", "text": "Hi! Do you ship to Canada?" }));
    assert_eq!(part("m.image")[0]["media"]["kind"], "image");
    assert_eq!(find(&dm, "m.image")["status"], "deleted", "unsend marks it deleted");
    assert_eq!(part("m.video")[0]["media"]["kind"], "video");
    assert_eq!(part("m.audio")[0]["media"]["kind"], "audio");
    assert_eq!(part("m.file")[0]["media"]["kind"], "file");
    assert_eq!(part("m.share")[0], json!({ "type": "shared_link", "url": "https://www.instagram.com/p/abc/" }));
    assert_eq!(part("m.reel")[0]["title"], "Reel");
    assert_eq!(part("m.mention")[0], json!({ "type": "story", "kind": "mention", "url": "https://x.cdninstagram.com/story.jpg" }));
    assert_eq!(part("m.story-reply")[0], json!({ "type": "story", "kind": "reply", "id": "story-1", "url": "https://x.cdninstagram.com/s.jpg" }));
    assert_eq!(part("m.story-reply")[1]["text"], "love this");
    assert_eq!(find(&dm, "m.reply")["reply_to"], "m.image");
    assert_eq!(part("m.quick")[1], json!({ "type": "interactive_reply", "kind": "quick_reply", "id": "COLOR_RED", "title": "Red" }));
    assert_eq!(part("m.postback")[0], json!({ "type": "interactive_reply", "kind": "postback", "id": "GET_STARTED", "title": "Start" }));
    assert_eq!(part("m.unsupported")[0]["type"], "unsupported");
    assert_eq!(part("m.future")[0]["type_name"], "hologram");
    let echo = find(&dm, "m.echo");
    assert_eq!(echo["direction"], "outbound", "echoes are the business's own messages");
    assert_eq!(echo["status"], "sent");
    let broken = find(&dm, "m.broken");
    assert_eq!(broken["parts"][0]["type"], "unsupported");
    assert!(broken["parts"][0]["raw"].as_str().unwrap().contains("no sender"));

    // Reactions are on the customer's timeline; comments are a separate, proactive thread.
    let (_, page) = host.api_get(&token, "/v1/conversations").await;
    let comment_conversation = page["items"].as_array().unwrap().iter().find(|c| c["thread"] == "comment").unwrap().clone();
    assert_eq!(comment_conversation["tier"], "proactive");
    let dm_conversation = page["items"].as_array().unwrap().iter().rev().find(|c| c["thread"] == "direct").unwrap().clone();
    assert_eq!(dm_conversation["tier"], "reactive");
    let (_, comments) = messages_of(&host, &token, "comment").await;
    assert_eq!(comments[0]["parts"][0], json!({ "type": "comment", "text": "This is an example.", "post_id": "123123123", "parent_comment_id": "1231231234", "mention": false }));
    assert_eq!(comments[0]["extra"]["comment"], true);
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{}", dm_conversation["contact_id"].as_str().unwrap())).await;
    let reactions: Vec<Value> = contact["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "reaction").map(|t| t["data"]["emoji"].clone()).collect();
    assert_eq!(reactions, vec![json!("❤️"), Value::Null]);
}

fn sent(graph: &FakeProvider) -> Vec<Value> {
    graph.requests().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_typing_seen_and_private_replies() {
    let graph = graph().await;
    let (host, _dir) = instagram_host(&graph, false).await;
    let (_, token) = token(&host, "acme", "agent").await;
    assert_eq!(post(&host, &fixture("instagram-text.json")).await, 200);
    assert_eq!(post(&host, &fixture("instagram-comment.json")).await, 200);
    let (conversation, dm) = messages_of(&host, &token, "direct").await;
    let path = format!("/v1/conversations/{conversation}/messages");

    let (status, text) = host.api_send("POST", &token, &path, &json!({ "text": "Thanks for reaching out - an agent will reply shortly.", "reply_to": dm[0]["id"] })).await;
    assert_eq!(status, 202, "{text}");
    let (status, _) = host.api_send("POST", &token, &path, &json!({ "content": { "type": "media", "media": { "kind": "image", "url": "https://cdn.example.com/p.jpg" } } })).await;
    assert_eq!(status, 202);
    let (status, refused) = host.api_send("POST", &token, &path, &json!({ "content": { "type": "template", "template": { "name": "x", "language": "en" } } })).await;
    assert_eq!(status, 422, "{refused}");
    let (status, refused) = host.api_send("POST", &token, &path, &json!({ "text": "x".repeat(1001) })).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (422, Some("text_too_long")));
    host.eventually("two sends", || async { (sent(&graph).len() >= 2).then_some(()) }).await;
    let bodies = sent(&graph);
    let text_body = bodies.iter().find(|b| b["message"]["text"].is_string()).unwrap();
    let expected: Value = serde_json::from_slice(&fixture("instagram-send-text-request.json")).unwrap();
    assert_eq!(text_body["recipient"], expected["recipient"]);
    assert_eq!(text_body["messaging_type"], expected["messaging_type"]);
    assert_eq!(text_body["message"], expected["message"]);
    assert_eq!(text_body["reply_to"]["mid"], dm[0]["provider_message_id"]);
    let image = bodies.iter().find(|b| b["message"]["attachment"].is_object()).unwrap();
    assert_eq!(image["message"]["attachment"], json!({ "type": "image", "payload": { "url": "https://cdn.example.com/p.jpg" } }));
    let (_, m) = host.api_get(&token, &format!("/v1/messages/{}", text["id"].as_str().unwrap())).await;
    let m = if m["provider_message_id"].is_null() {
        host.eventually("the receipt", || async {
            let (_, m) = host.api_get(&token, &format!("/v1/messages/{}", text["id"].as_str().unwrap())).await;
            m["provider_message_id"].is_string().then_some(m)
        })
        .await
    } else {
        m
    };
    // Seen events mark our message read.
    let read = json!([{ "sender": { "id": "1254459154682919" }, "recipient": { "id": ACCOUNT }, "timestamp": 1750050009000u64, "read": { "mid": m["provider_message_id"] } }]);
    assert_eq!(post(&host, &messaging(read)).await, 200);
    let (_, m) = host.api_get(&token, &format!("/v1/messages/{}", text["id"].as_str().unwrap())).await;
    assert_eq!(m["status"], "read");

    let typing = host.client.post(format!("{}/v1/conversations/{conversation}/typing", host.base)).bearer_auth(&token).json(&json!({ "active": true })).send().await.unwrap();
    assert_eq!(typing.status(), 204);
    assert!(sent(&graph).contains(&json!({ "recipient": { "id": "1254459154682919" }, "sender_action": "typing_on" })));

    // A private reply answers the comment in direct messages and is recorded on the comment's thread.
    let (_, comments) = messages_of(&host, &token, "comment").await;
    let comment_id = comments[0]["id"].as_str().unwrap();
    let (status, reply) = host.api_send("POST", &token, &format!("/v1/messages/{comment_id}/private-reply"), &json!({ "text": "We sent you a DM" })).await;
    assert_eq!(status, 201, "{reply}");
    assert!(sent(&graph).contains(&json!({ "recipient": { "comment_id": "17865799348089039" }, "message": { "text": "We sent you a DM" } })));
    let (_, comments) = messages_of(&host, &token, "comment").await;
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[1]["direction"], "outbound");
    let (status, _) = host.api_send("POST", &token, &format!("/v1/messages/{}/private-reply", dm[0]["id"].as_str().unwrap()), &json!({ "text": "x" })).await;
    assert_eq!(status, 422, "only comments take private replies");
}

async fn age_conversation(host: &TestHost, days: i64) {
    let past = switchboard::store::now_ms() - days * 86_400_000 - 60_000;
    sqlx::query("UPDATE conversations SET last_inbound_at = $1").bind(past).execute(&host.host.db.pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_agent_tag_only_when_enabled_and_within_seven_days() {
    let graph = graph().await;
    for enabled in [false, true] {
        let (host, _dir) = instagram_host(&graph, enabled).await;
        let (_, token) = token(&host, "acme", "agent").await;
        assert_eq!(post(&host, &fixture("instagram-text.json")).await, 200);
        let (conversation, _) = messages_of(&host, &token, "direct").await;
        let path = format!("/v1/conversations/{conversation}/messages");
        age_conversation(&host, 2).await;
        let (status, answer) = host.api_send("POST", &token, &path, &json!({ "text": format!("following up ({enabled})") })).await;
        if !enabled {
            assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("reply_window_closed")));
            continue;
        }
        assert_eq!(status, 202, "{answer}");
        host.eventually("the tagged send", || async {
            sent(&graph).into_iter().find(|b| b["message"]["text"] == "following up (true)")
        })
        .await;
        let body = sent(&graph).into_iter().find(|b| b["message"]["text"] == "following up (true)").unwrap();
        assert_eq!(body["messaging_type"], "MESSAGE_TAG");
        assert_eq!(body["tag"], "HUMAN_AGENT");
        age_conversation(&host, 8).await;
        let (status, answer) = host.api_send("POST", &token, &path, &json!({ "text": "too old" })).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("reply_window_closed")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_window_error_closes_the_window() {
    let graph = graph().await;
    let (host, _dir) = instagram_host(&graph, false).await;
    let (_, token) = token(&host, "acme", "agent").await;
    assert_eq!(post(&host, &fixture("instagram-text.json")).await, 200);
    let (conversation, _) = messages_of(&host, &token, "direct").await;
    let (_, sent) = host.api_send("POST", &token, &format!("/v1/conversations/{conversation}/messages"), &json!({ "text": "too late" })).await;
    let id = sent["id"].as_str().unwrap().to_string();
    let failed = host
        .eventually("the failure", || async {
            let (_, m) = host.api_get(&token, &format!("/v1/messages/{id}")).await;
            (m["status"] == "failed").then_some(m)
        })
        .await;
    assert_eq!(failed["error"]["category"], "window_closed");
    assert_eq!(failed["error"]["detail"], "subcode 2018278");
    let (_, c) = host.api_get(&token, &format!("/v1/conversations/{conversation}")).await;
    assert_eq!(c["conversation"]["window_closed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_and_signatures() {
    let graph = graph().await;
    let (host, _dir) = instagram_host(&graph, false).await;
    let ok = host.get("/hooks/ig?hub.mode=subscribe&hub.challenge=42&hub.verify_token=vt").await;
    assert_eq!((ok.status().as_u16(), ok.text().await.unwrap()), (200, "42".to_string()));
    assert_eq!(host.get("/hooks/ig?hub.mode=subscribe&hub.challenge=42&hub.verify_token=nope").await.status(), 403);
    let body = fixture("instagram-text.json");
    assert_eq!(host.post_hook("ig", body.clone(), &[("x-hub-signature-256", &sign_sha256("wrong", &body))]).await.status(), 401);
    assert_eq!(host.post_hook("ig", b"[]".to_vec(), &[("x-hub-signature-256", &sign_sha256(APP_SECRET, b"[]"))]).await.status(), 400);
    let (_, token) = token(&host, "acme", "agent").await;
    let (_, page) = host.api_get(&token, "/v1/conversations").await;
    assert_eq!(page["items"], json!([]), "nothing stored");
}
