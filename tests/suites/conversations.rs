//! The conversation core over HTTP, on SQLite and on PostgreSQL: durable, idempotent ingest;
//! statuses that only move forward; the outbox with retries; tenant isolation; the event stream.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use switchboard_tests::*;

const SECRET: &str = "webhook-secret";

/// Run a test body on both databases.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await
            }
        }
    };
}

/// A host with the example connector: channel `demo` (tenant acme) and `other` (tenant globex),
/// both pointing at `provider`.
async fn host_on(backend: Backend, provider: &FakeProvider) -> (TestHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(backend, dir.path(), provider).await;
    (TestHost::start(config).await, dir)
}

async fn config_for(backend: Backend, dir: &std::path::Path, provider: &FakeProvider) -> switchboard::config::Config {
    let mut config = config_on(backend, dir).await;
    config.runtime.connectors = vec![connector("signed-webhook")];
    for (id, tenant) in [("demo", "acme"), ("other", "globex")] {
        let mut ch = channel(id, tenant, "signed-webhook", &[("signing-secret", SECRET), ("api-token", "tok"), ("api-base-url", &provider.url())]);
        ch.allow_private_egress = true;
        config.channels.push(ch);
    }
    config
}

/// A provider that accepts every message and answers ids `prov-1`, `prov-2`, ...
async fn accepting_provider() -> FakeProvider {
    FakeProvider::start(|_, n| (200, "application/json", format!(r#"{{"id":"prov-{}"}}"#, n + 1))).await
}

async fn post_events(host: &TestHost, channel: &str, events: Value) -> reqwest::Response {
    let body = json!({ "events": events }).to_string();
    host.post_hook(channel, body.clone(), &[("x-signature-256", &sign_sha256(SECRET, body.as_bytes()))]).await
}

fn inbound(id: &str, from: &str, text: &str) -> Value {
    json!({ "type": "message", "id": id, "from": { "id": from, "name": "Ada", "phone": "+15550001" }, "text": text })
}

async fn only_conversation(host: &TestHost, token: &str) -> Value {
    let (status, page) = host.api_get(token, "/v1/conversations").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    items[0].clone()
}

/// An agent's token for tenant acme, and the conversation a first customer message opened.
async fn agent_in_a_conversation(host: &TestHost) -> (String, String) {
    let (_, token) = token(host, "acme", "agent").await;
    post_events(host, "demo", json!([inbound("m-1", "cust-1", "hello")])).await;
    let cid = only_conversation(host, &token).await["id"].as_str().unwrap().to_string();
    (token, cid)
}

async fn duplicate_and_concurrent_webhooks_store_each_message_once(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (_, token) = token(&host, "acme", "agent").await;

    // The same delivery twice (a provider retry).
    for _ in 0..2 {
        assert_eq!(post_events(&host, "demo", json!([inbound("m-1", "cust-1", "hello")])).await.status(), 200);
    }
    // Twenty concurrent requests: ten copies of one message and ten distinct ones.
    let host = Arc::new(host);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let id = if i % 2 == 0 { "m-dup".to_string() } else { format!("m-distinct-{i}") };
            post_events(&host, "demo", json!([inbound(&id, "cust-1", "again")])).await.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let conversation = only_conversation(&host, &token).await;
    let (_, full) = host.api_get(&token, &format!("/v1/conversations/{}", conversation["id"].as_str().unwrap())).await;
    let messages = full["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1 + 1 + 10, "m-1, m-dup and ten distinct messages, each once");
    let mut ids: Vec<&str> = messages.iter().map(|m| m["provider_message_id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12);
    assert_eq!(messages[0]["parts"], json!([{ "type": "text", "text": "hello" }]));
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(full["conversation"]["status"], "open");
    assert!(full["conversation"]["first_inbound_at"].is_i64());

    // The contact carries the identity and a timeline.
    let contact_id = conversation["contact_id"].as_str().unwrap();
    let (_, contact) = host.api_get(&token, &format!("/v1/contacts/{contact_id}")).await;
    assert_eq!(contact["name"], "Ada");
    assert_eq!(contact["identities"][0]["provider_id"], "cust-1");
    assert_eq!(contact["timeline"].as_array().unwrap().iter().filter(|t| t["kind"] == "message").count(), 12);
}
on_both!(duplicate_and_concurrent_webhooks_store_each_message_once);

/// Many webhooks at once are written as one group commit: each customer is one contact with one
/// conversation, however many of their messages share the batch, and nothing is stored twice.
async fn a_burst_of_new_customers_makes_one_contact_and_conversation_each(backend: Backend) {
    let provider = accepting_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(backend, dir.path(), &provider).await;
    let mut sms_like = channel("demo2", "acme", "signed-webhook", &[("signing-secret", SECRET), ("api-token", "tok"), ("api-base-url", &provider.url())]);
    sms_like.allow_private_egress = true;
    config.channels.push(sms_like);
    let host = TestHost::start(config).await;
    let (_, token) = token(&host, "acme", "agent").await;
    let host = Arc::new(host);
    // Sixteen new customers each send three webhooks at once; each webhook carries its message
    // twice (a duplicate inside one request).
    let mut tasks = Vec::new();
    for customer in 0..16 {
        for n in 0..3 {
            let host = host.clone();
            tasks.push(tokio::spawn(async move {
                let from = json!({ "id": format!("burst-{customer}"), "name": format!("Customer {customer}"), "phone": format!("+1555100{customer:02}") });
                let message = json!({ "type": "message", "id": format!("burst-{customer}-{n}"), "from": from, "text": format!("message {n}") });
                post_events(&host, "demo", json!([message.clone(), message])).await.status().as_u16()
            }));
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let db = &host.host.db.pool;
    let count = |sql: &'static str| async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(db).await.unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM contacts").await, 16);
    assert_eq!(count("SELECT COUNT(*) FROM contact_identities").await, 16);
    assert_eq!(count("SELECT COUNT(*) FROM conversations").await, 16);
    assert_eq!(count("SELECT COUNT(*) FROM messages").await, 48);
    assert_eq!(count("SELECT COUNT(*) FROM timeline WHERE kind = 'conversation.opened'").await, 16);
    assert_eq!(count("SELECT COUNT(*) FROM timeline WHERE kind = 'message'").await, 48);
    assert_eq!(count("SELECT COUNT(*) FROM events WHERE kind = 'message.created'").await, 48);
    assert_eq!(count("SELECT COUNT(*) FROM conversations WHERE first_inbound_at IS NULL OR last_inbound_at IS NULL").await, 0);
    let (_, page) = host.api_get(&token, "/v1/conversations?limit=100").await;
    let conversations = page["items"].as_array().unwrap();
    assert_eq!(conversations.len(), 16, "{page}");
    for conversation in conversations {
        let (_, full) = host.api_get(&token, &format!("/v1/conversations/{}", conversation["id"].as_str().unwrap())).await;
        let messages = full["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3, "{full}");
        let customer = messages[0]["provider_message_id"].as_str().unwrap().rsplit_once('-').unwrap().0.to_string();
        assert!(messages.iter().all(|m| m["provider_message_id"].as_str().unwrap().starts_with(&format!("{customer}-"))), "{full}");
    }

    // A redelivery stores nothing.
    let from = json!({ "id": "burst-3", "name": "Customer 3", "phone": "+155510003" });
    let again = json!([{ "type": "message", "id": "burst-3-0", "from": from, "text": "message 0" }]);
    assert_eq!(post_events(&host, "demo", again).await.status(), 200);
    assert_eq!(count("SELECT COUNT(*) FROM messages").await, 48);

    // The same people on a second channel of the tenant (same phones, other ids), all at once:
    // each joins their contact, in a new conversation on that channel.
    let mut tasks = Vec::new();
    for customer in 0..16 {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let from = json!({ "id": format!("other-id-{customer}"), "phone": format!("+1555100{customer:02}") });
            let message = json!({ "type": "message", "id": format!("second-{customer}"), "from": from, "text": "hi again" });
            post_events(&host, "demo2", json!([message])).await.status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(count("SELECT COUNT(*) FROM contacts").await, 16);
    assert_eq!(count("SELECT COUNT(*) FROM contact_identities").await, 32);
    assert_eq!(count("SELECT COUNT(*) FROM conversations").await, 32);
    assert_eq!(count("SELECT COUNT(DISTINCT contact_id) FROM conversations").await, 16);
}
on_both!(a_burst_of_new_customers_makes_one_contact_and_conversation_each);

async fn statuses_only_move_forward_even_out_of_order(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (_, token) = token(&host, "acme", "agent").await;
    post_events(&host, "demo", json!([inbound("m-1", "cust-1", "hello")])).await;
    let conversation = only_conversation(&host, &token).await;
    let cid = conversation["id"].as_str().unwrap().to_string();

    // A status for prov-1 arrives before the message it describes has been sent.
    assert_eq!(post_events(&host, "demo", json!([{ "type": "status", "message_id": "prov-1", "state": "delivered" }])).await.status(), 200);

    let (status, sent) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/messages"), &json!({ "text": "Hi Ada" })).await;
    assert_eq!(status, 202, "{sent}");
    let mid = sent["id"].as_str().unwrap().to_string();
    let message = host
        .eventually("the send's receipt", || {
            let (host, token, mid) = (&host, &token, &mid);
            async move {
                let (_, m) = host.api_get(token, &format!("/v1/messages/{mid}")).await;
                (m["provider_message_id"] == "prov-1").then_some(m)
            }
        })
        .await;
    assert_eq!(message["status"], "delivered", "the early status applies once the receipt arrives");

    // Read before sent: read wins, and the late `sent` does not move it back.
    post_events(&host, "demo", json!([{ "type": "status", "message_id": "prov-1", "state": "read" }])).await;
    post_events(&host, "demo", json!([{ "type": "status", "message_id": "prov-1", "state": "sent" }, { "type": "status", "message_id": "prov-1", "state": "delivered" }])).await;
    let (_, m) = host.api_get(&token, &format!("/v1/messages/{mid}")).await;
    assert_eq!(m["status"], "read");
    // A failure after read does not undo it either.
    post_events(&host, "demo", json!([{ "type": "status", "message_id": "prov-1", "state": "failed", "error": { "code": "X", "title": "late" } }])).await;
    let (_, m) = host.api_get(&token, &format!("/v1/messages/{mid}")).await;
    assert_eq!(m["status"], "read");
}
on_both!(statuses_only_move_forward_even_out_of_order);

async fn transient_failures_are_retried_and_permanent_ones_keep_the_reason(backend: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let provider = FakeProvider::start(move |request, _| {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        if body["text"] == "blocked" {
            return (400, "application/json", r#"{"error":"recipient blocked"}"#.into());
        }
        // Two transient failures, then success.
        match seen.fetch_add(1, Ordering::SeqCst) {
            0 | 1 => (503, "application/json", r#"{"error":"try later"}"#.into()),
            _ => (200, "application/json", r#"{"id":"prov-ok"}"#.into()),
        }
    })
    .await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (token, cid) = agent_in_a_conversation(&host).await;

    let (status, sent) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/messages"), &json!({ "text": "hi" })).await;
    assert_eq!(status, 202);
    let mid = sent["id"].as_str().unwrap().to_string();
    assert_eq!(sent["message"]["status"], "pending");
    let m = host
        .eventually("delivery after two retries", || {
            let (host, token, mid) = (&host, &token, &mid);
            async move {
                let (_, m) = host.api_get(token, &format!("/v1/messages/{mid}")).await;
                (m["provider_message_id"] == "prov-ok").then_some(m)
            }
        })
        .await;
    assert_eq!(m["status"], "queued");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let texts: Vec<Value> = provider.requests().iter().map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["text"].clone()).collect();
    assert_eq!(texts, vec![json!("hi"), json!("hi"), json!("hi")], "two failures, one success, nothing after");

    let (_, sent) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/messages"), &json!({ "text": "blocked" })).await;
    let mid = sent["id"].as_str().unwrap().to_string();
    let m = host
        .eventually("a permanent failure", || {
            let (host, token, mid) = (&host, &token, &mid);
            async move {
                let (_, m) = host.api_get(token, &format!("/v1/messages/{mid}")).await;
                (m["status"] == "failed").then_some(m)
            }
        })
        .await;
    assert_eq!(m["error"]["category"], "rejected");
    assert_eq!(m["error"]["code"], "400");
    assert!(m["error"]["detail"].as_str().unwrap().contains("recipient blocked"), "{m}");
}
on_both!(transient_failures_are_retried_and_permanent_ones_keep_the_reason);

/// Deliveries reuse the connection to the provider instead of opening one per message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_reuse_provider_connections() {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(Backend::Sqlite, &provider).await;
    let (token, cid) = agent_in_a_conversation(&host).await;
    for n in 1..=8 {
        let (status, sent) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/messages"), &json!({ "text": format!("reply {n}") })).await;
        assert_eq!(status, 202);
        let mid = sent["id"].as_str().unwrap().to_string();
        // Recorded as queued: the connector call, which reads the whole response, is over.
        host.eventually("the message is delivered", || {
            let (host, token, mid) = (&host, &token, &mid);
            async move {
                let (_, m) = host.api_get(token, &format!("/v1/messages/{mid}")).await;
                (m["status"] == "queued").then_some(())
            }
        })
        .await;
    }
    assert_eq!(provider.requests().len(), 8);
    let connections = provider.connections.load(Ordering::SeqCst);
    assert_eq!(connections, 1, "8 sequential deliveries over {connections} connections");
}

async fn idempotency_key_queues_once(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (token, cid) = agent_in_a_conversation(&host).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let response = host
            .client
            .post(format!("{}/v1/conversations/{cid}/messages", host.base))
            .bearer_auth(&token)
            .header("idempotency-key", "order-77")
            .json(&json!({ "text": "once" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        answers.push(response.json::<Value>().await.unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0]["id"] == w[1]["id"]));
    // The first answer is built without reading the message back, the repeats read it: both show
    // the message as stored, field for field (delivery changes only its state).
    let (first, stored) = (&answers[0]["message"], &answers[2]["message"]);
    let keys = |m: &Value| m.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(first), keys(stored));
    for field in ["id", "conversation_id", "channel_id", "direction", "parts", "reply_to", "author_id", "extra", "created_at"] {
        assert_eq!(first[field], stored[field], "{field}");
    }
    assert_eq!(first["status"], "pending");
    host.eventually("the send", || async { (provider.requests().len() == 1).then_some(()) }).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(provider.requests().len(), 1);
}
on_both!(idempotency_key_queues_once);

async fn refused_sends_do_not_stop_the_others_in_their_commit(backend: Backend) {
    // Sends sent together are planned in one group commit; a send its policy refuses writes
    // nothing and the others are queued, each once.
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (token, cid) = agent_in_a_conversation(&host).await;
    let path = format!("/v1/conversations/{cid}/messages");
    let sends = (0..24).map(|i| {
        let (host, token, path) = (&host, &token, &path);
        async move {
            let text = if i % 3 == 0 { "x".repeat(5000) } else { format!("reply {i}") };
            let (status, answer) = host.api_send("POST", token, path, &json!({ "text": text })).await;
            (i, status, answer)
        }
    });
    let answers = futures::future::join_all(sends).await;
    for (i, status, answer) in &answers {
        if i % 3 == 0 {
            assert_eq!((*status, answer["error"]["code"].as_str()), (422, Some("text_too_long")), "{answer}");
        } else {
            assert_eq!(*status, 202, "{answer}");
            assert_eq!(answer["message"]["parts"][0]["text"], format!("reply {i}"));
        }
    }
    host.eventually("the accepted sends", || async { (provider.requests().len() == 16).then_some(()) }).await;
    let (_, conversation) = host.api_get(&token, &format!("/v1/conversations/{cid}")).await;
    let outbound: Vec<&Value> = conversation["messages"].as_array().unwrap().iter().filter(|m| m["direction"] == "outbound").collect();
    assert_eq!(outbound.len(), 16, "only the accepted sends are stored");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(provider.requests().len(), 16, "each accepted send is delivered once");
}
on_both!(refused_sends_do_not_stop_the_others_in_their_commit);

async fn sends_beyond_the_dispatchers_intake_wait_in_the_outbox_and_are_claimed(backend: Backend) {
    // The writer hands the messages it queues to the dispatcher in memory, leased to it, while
    // its intake has room; the rest are written unleased and claimed from the outbox. Both kinds
    // are delivered, each once. One send at a time and a slow provider fill the intake at once.
    let sent: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = sent.clone();
    let provider = FakeProvider::start(move |request, n| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        log.lock().unwrap().push(body["reference"].as_str().unwrap().to_string());
        (200, "application/json", format!(r#"{{"id":"prov-{n}"}}"#))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(backend, dir.path(), &provider).await;
    config.delivery.concurrency = 1;
    let host = TestHost::start(config).await;
    let (token, cid) = agent_in_a_conversation(&host).await;
    let path = format!("/v1/conversations/{cid}/messages");
    let sends = (0..40).map(|i| {
        let (host, token, path) = (&host, &token, &path);
        async move { host.api_send("POST", token, path, &json!({ "text": format!("n{i}") })).await }
    });
    let mut ids = Vec::new();
    for (status, answer) in futures::future::join_all(sends).await {
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_string());
    }
    let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE lease_owner IS NULL").fetch_one(&host.host.db.pool).await.unwrap();
    assert!(waiting > 0, "the intake (16 sends) overflowed, so some sends wait unleased in the outbox");
    host.eventually("all 40 sends", || async { (sent.lock().unwrap().len() >= 40).then_some(()) }).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut references = sent.lock().unwrap().clone();
    references.sort();
    ids.sort();
    assert_eq!(references, ids, "every message was sent, each once");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&host.host.db.pool).await.unwrap();
    assert_eq!(left, 0, "delivered messages leave the outbox");
}
on_both!(sends_beyond_the_dispatchers_intake_wait_in_the_outbox_and_are_claimed);

async fn tenants_are_isolated(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (_, acme) = token(&host, "acme", "admin").await;
    let (_, globex) = token(&host, "globex", "admin").await;
    post_events(&host, "other", json!([inbound("g-1", "cust-9", "globex customer")])).await;
    let theirs = only_conversation(&host, &globex).await;
    let cid = theirs["id"].as_str().unwrap();
    let contact = theirs["contact_id"].as_str().unwrap();

    let (_, page) = host.api_get(&acme, "/v1/conversations").await;
    assert_eq!(page["items"], json!([]));
    for path in [format!("/v1/conversations/{cid}"), format!("/v1/contacts/{contact}"), "/v1/channels/other".to_string()] {
        let (status, body) = host.api_get(&acme, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, _) = host.api_send("POST", &acme, &format!("/v1/conversations/{cid}/messages"), &json!({ "text": "x" })).await;
    assert_eq!(status, 404);
    let (status, _) = host.api_send("POST", &acme, &format!("/v1/conversations/{cid}/status"), &json!({ "status": "resolved" })).await;
    assert_eq!(status, 404);
    let (status, _) = host.api_send("DELETE", &acme, "/v1/channels/other", &json!({})).await;
    assert_eq!(status, 404);
    let (_, channels) = host.api_get(&acme, "/v1/channels").await;
    assert_eq!(channels["items"].as_array().unwrap().len(), 1);
    assert_eq!(channels["items"][0]["id"], "demo");
    assert_eq!(channels["items"][0]["settings"]["signing-secret"], "********", "secrets never leave the host");
    assert_eq!(channels["items"][0]["settings"]["api-token"], "********");

    let response = host.client.get(format!("{}/v1/conversations", host.base)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let (status, _) = host.api_get("sb_not_a_token", "/v1/conversations").await;
    assert_eq!(status, 401);
}
on_both!(tenants_are_isolated);

async fn bad_requests_get_clear_4xx_and_write_nothing(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (token, cid) = agent_in_a_conversation(&host).await;
    let path = format!("/v1/conversations/{cid}/messages");

    let response = host.client.post(format!("{}{path}", host.base)).bearer_auth(&token).header("content-type", "application/json").body("{not json").send().await.unwrap();
    assert_eq!(response.status(), 400);
    let cases = [
        (json!({ "text": 5 }), 422, "text"),
        (json!({ "content": { "type": "carrier_pigeon" } }), 422, "carrier_pigeon"),
        (json!({ "text": "x", "colour": "red" }), 422, "colour"),
        (json!({}), 422, "either `content` or `text`"),
        (json!({ "text": "x".repeat(5000) }), 422, "allows 4096"),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = host.api_send("POST", &token, &path, &body).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(needle), "{body}: {answer}");
    }
    let (status, answer) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/status"), &json!({ "status": "done" })).await;
    assert_eq!(status, 422);
    assert!(answer["error"]["message"].as_str().unwrap().contains("unknown variant `done`"), "{answer}");
    let labels: Vec<String> = (0..51).map(|i| format!("l{i}")).collect();
    let (status, answer) = host.api_send("PUT", &token, &format!("/v1/conversations/{cid}/labels"), &json!({ "labels": labels })).await;
    assert_eq!(status, 400);
    assert!(answer["error"]["message"].as_str().unwrap().contains("`labels`"), "{answer}");
    let (status, _) = host.api_get(&token, "/v1/conversations?limit=1000").await;
    assert_eq!(status, 400);
    let (status, _) = host.api_get(&token, "/v1/conversations?status=sideways").await;
    assert_eq!(status, 400);

    // Nothing above was written.
    let (_, full) = host.api_get(&token, &format!("/v1/conversations/{cid}")).await;
    assert_eq!(full["messages"].as_array().unwrap().len(), 1);
    assert_eq!(full["conversation"]["labels"], json!([]));
    assert!(provider.requests().is_empty());

    // A bad signature or body stores nothing either.
    let body = json!({ "events": [inbound("m-2", "cust-1", "x")] }).to_string();
    assert_eq!(host.post_hook("demo", body.clone(), &[("x-signature-256", &sign_sha256("wrong", body.as_bytes()))]).await.status(), 401);
    assert_eq!(host.post_hook("demo", "{oops", &[("x-signature-256", &sign_sha256(SECRET, b"{oops"))]).await.status(), 400);
    let (_, full) = host.api_get(&token, &format!("/v1/conversations/{cid}")).await;
    assert_eq!(full["messages"].as_array().unwrap().len(), 1);
}
on_both!(bad_requests_get_clear_4xx_and_write_nothing);

async fn conversation_lifecycle_threading_and_contact_profile(backend: Backend) {
    let provider = accepting_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(backend, dir.path(), &provider).await;
    config.conversations.reopen_window_minutes = 0;
    let host = TestHost::start(config).await;
    let (agent, token) = token(&host, "acme", "agent").await;
    post_events(&host, "demo", json!([inbound("m-1", "cust-1", "hello")])).await;
    let cid = only_conversation(&host, &token).await["id"].as_str().unwrap().to_string();

    let (s, c) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/claim"), &json!({})).await;
    assert_eq!((s, c["assignee_id"].as_str()), (200, Some(agent.as_str())));
    let (s, c) = host.api_send("PUT", &token, &format!("/v1/conversations/{cid}/labels"), &json!({ "labels": ["vip", "billing", "vip"] })).await;
    assert_eq!((s, c["labels"].clone()), (200, json!(["billing", "vip"])));
    let (s, c) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/priority"), &json!({ "priority": "urgent" })).await;
    assert_eq!((s, c["priority"].as_str()), (200, Some("urgent")));
    let (s, _) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/notes"), &json!({ "body": "asked about invoice 12" })).await;
    assert_eq!(s, 201);
    let (_, page) = host.api_get(&token, "/v1/conversations?assignee_id=me").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = host.api_get(&token, "/v1/conversations?assignee_id=none").await;
    assert_eq!(page["items"], json!([]));

    // Resolved, and the reopen window is zero: the next message starts a new conversation.
    let (s, c) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/status"), &json!({ "status": "resolved" })).await;
    assert_eq!((s, c["status"].as_str()), (200, Some("resolved")));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    post_events(&host, "demo", json!([inbound("m-2", "cust-1", "one more thing")])).await;
    let (_, page) = host.api_get(&token, "/v1/conversations").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["status"], "open");
    assert_ne!(items[0]["id"], json!(cid));
    assert_eq!(items[0]["contact_id"], items[1]["contact_id"], "the same customer");
    let (_, page1) = host.api_get(&token, "/v1/conversations?limit=1").await;
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = host.api_get(&token, &format!("/v1/conversations?limit=1&cursor={cursor}")).await;
    assert_eq!(page2["items"][0]["id"], json!(cid));
    assert_eq!(page2["next_cursor"], Value::Null);

    // Attributes and contact notes follow the customer.
    let contact = items[0]["contact_id"].as_str().unwrap();
    let (s, c) = host.api_send("PATCH", &token, &format!("/v1/contacts/{contact}/attributes"), &json!({ "pets": "two dogs" })).await;
    assert_eq!((s, c["attributes"]["pets"].as_str()), (200, Some("two dogs")));
    host.api_send("POST", &token, &format!("/v1/contacts/{contact}/notes"), &json!({ "body": "prefers email" })).await;
    let (_, c) = host.api_get(&token, &format!("/v1/contacts/{contact}")).await;
    assert_eq!(c["notes"].as_array().unwrap().len(), 2, "the conversation note and the contact note");
    let (_, found) = host.api_get(&token, "/v1/contacts?q=ada").await;
    assert_eq!(found["items"][0]["id"], json!(contact));
    let (_, found) = host.api_get(&token, "/v1/contacts?q=%2B1555").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}
on_both!(conversation_lifecycle_threading_and_contact_profile);

async fn event_stream_resumes_without_gaps_or_repeats(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (_, token) = token(&host, "acme", "agent").await;

    // Start from the beginning and read the first three events.
    post_events(&host, "demo", json!([inbound("m-1", "c-1", "a"), inbound("m-2", "c-2", "b"), inbound("m-3", "c-3", "c")])).await;
    let mut stream = SseReader::open(&host, &token, Some("0")).await;
    let first: Vec<(String, Value)> = stream.take(3).await;
    assert!(first.iter().all(|(_, e)| e["direction"] == "inbound"));
    let last_id = first.last().unwrap().0.clone();
    drop(stream);

    // While disconnected, more happens.
    post_events(&host, "demo", json!([inbound("m-4", "c-4", "d"), inbound("m-5", "c-5", "e")])).await;
    let mut stream = SseReader::open(&host, &token, Some(&last_id)).await;
    let resumed = stream.take(2).await;
    let texts: Vec<&str> = resumed.iter().map(|(_, e)| e["parts"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["d", "e"]);
    // Live events arrive on the open stream too, once.
    post_events(&host, "demo", json!([inbound("m-6", "c-6", "f")])).await;
    let live = stream.take(1).await;
    assert_eq!(live[0].1["parts"][0]["text"], "f");
    let ids: Vec<i64> = first.iter().chain(resumed.iter()).chain(live.iter()).map(|(id, _)| id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

    // An id that is not a number, or not one of this tenant's events, is refused with the reason.
    let (_, globex) = switchboard_tests::token(&host, "globex", "agent").await;
    post_events(&host, "other", json!([inbound("g-1", "c-9", "theirs")])).await;
    let theirs = SseReader::open(&host, &globex, Some("0")).await.take(1).await[0].0.clone();
    for bad in ["abc", theirs.as_str()] {
        let response = host.client.get(format!("{}/v1/events", host.base)).bearer_auth(&token).header("last-event-id", bad).send().await.unwrap();
        assert_eq!(response.status(), 400, "Last-Event-ID {bad}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("Last-Event-ID"), "{body}");
    }
}
on_both!(event_stream_resumes_without_gaps_or_repeats);

async fn event_stream_delivers_every_event_of_concurrent_writers_once(backend: Backend) {
    // Webhooks committed at once by several writers, read by a live stream and by one that
    // starts over from the first event: each sees every message once.
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (_, token) = token(&host, "acme", "agent").await;
    let mut live = SseReader::open(&host, &token, Some("0")).await;
    let posts = (0..40).map(|p| {
        let host = &host;
        async move {
            let events: Vec<Value> = (0..5).map(|i| inbound(&format!("m-{p}-{i}"), &format!("c-{p}"), &format!("{p}-{i}"))).collect();
            assert_eq!(post_events(host, "demo", json!(events)).await.status(), 200);
        }
    });
    futures::future::join_all(posts).await;
    let texts = |events: Vec<(String, Value)>| -> Vec<String> {
        let mut texts: Vec<String> = events.iter().map(|(_, e)| e["parts"][0]["text"].as_str().unwrap().to_string()).collect();
        texts.sort();
        texts
    };
    let mut expected: Vec<String> = (0..40).flat_map(|p| (0..5).map(move |i| format!("{p}-{i}"))).collect();
    expected.sort();
    assert_eq!(texts(live.take(200).await), expected, "the live stream saw every message once");
    let mut replay = SseReader::open(&host, &token, Some("0")).await;
    assert_eq!(texts(replay.take(200).await), expected, "a replay from the start saw every message once");
}
on_both!(event_stream_delivers_every_event_of_concurrent_writers_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stream_waits_for_an_older_transaction_to_end() {
    // On PostgreSQL writers publish events without a lock, so a later transaction can commit
    // first. A stream delivers events in transaction order, and only once every older
    // transaction has ended: an event that commits late is never passed over.
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(Backend::Postgres, &provider).await;
    let (_, token) = token(&host, "acme", "agent").await;
    let mut stream = SseReader::open(&host, &token, Some("0")).await;
    let mut older = host.host.db.pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()::text").execute(&mut *older).await.unwrap();
    post_events(&host, "demo", json!([inbound("m-1", "c-1", "committed second")])).await;
    let early = tokio::time::timeout(std::time::Duration::from_millis(1500), stream.take(1)).await;
    assert!(early.is_err(), "the newer event waits for the older transaction: {early:?}");
    let data = json!({ "direction": "inbound", "parts": [{ "type": "text", "text": "committed first" }] }).to_string();
    sqlx::query("INSERT INTO events (tenant_id, kind, data, created_at) VALUES ('acme', 'message.created', $1, 0)")
        .bind(data)
        .execute(&mut *older)
        .await
        .unwrap();
    older.commit().await.unwrap();
    let events = stream.take(2).await;
    let texts: Vec<&str> = events.iter().map(|(_, e)| e["parts"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["committed first", "committed second"]);
    // A stream resumed after the first of them gets the second.
    let mut resumed = SseReader::open(&host, &token, Some(&events[0].0)).await;
    let again = resumed.take(1).await;
    assert_eq!(again[0].1["parts"][0]["text"], "committed second");
}

/// Reads `message.created` events from `/v1/events`.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    async fn open(host: &TestHost, token: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = host.client.get(format!("{}/v1/events", host.base)).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        SseReader { response, buffer: String::new() }
    }

    async fn take(&mut self, n: usize) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while out.len() < n {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if kind == "message.created" {
                    out.push((id, serde_json::from_str(&data).unwrap()));
                }
            }
            if out.len() >= n {
                break;
            }
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_postgres_drain_one_outbox_without_sending_twice() {
    let sent: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = sent.clone();
    let provider = FakeProvider::start(move |request, n| {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        log.lock().unwrap().push(body["reference"].as_str().unwrap().to_string());
        (200, "application/json", format!(r#"{{"id":"prov-{n}"}}"#))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(Backend::Postgres, dir.path(), &provider).await;
    let mut second = config.clone();
    second.server.listen = "127.0.0.1:0".into();
    let a = TestHost::start(config).await;
    let b = TestHost::start(second).await;
    let (_, token) = token(&a, "acme", "agent").await;
    post_events(&a, "demo", json!([inbound("m-1", "cust-1", "hello")])).await;
    let cid = only_conversation(&a, &token).await["id"].as_str().unwrap().to_string();

    let mut ids = Vec::new();
    for i in 0..40 {
        let host = if i % 2 == 0 { &a } else { &b };
        let (status, sent) = host.api_send("POST", &token, &format!("/v1/conversations/{cid}/messages"), &json!({ "text": format!("n{i}") })).await;
        assert_eq!(status, 202);
        ids.push(sent["id"].as_str().unwrap().to_string());
    }
    a.eventually("all 40 sends", || async { (sent.lock().unwrap().len() >= 40).then_some(()) }).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut references = sent.lock().unwrap().clone();
    assert_eq!(references.len(), 40, "no message was sent twice");
    references.sort();
    ids.sort();
    assert_eq!(references, ids, "every message was sent");
}

async fn admin_api_channels_users_presence_and_merge(backend: Backend) {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(backend, &provider).await;
    let (_, admin) = token(&host, "acme", "admin").await;
    let (_, agent) = token(&host, "acme", "agent").await;

    // Channels: agents cannot add them; admins can, and get the webhook URL back.
    let body = json!({ "id": "acme-2", "connector": "signed-webhook",
        "settings": { "signing-secret": SECRET, "api-token": "tok2", "api-base-url": provider.url() }, "allow_private_egress": true });
    let (status, _) = host.api_send("POST", &agent, "/v1/channels", &body).await;
    assert_eq!(status, 403);
    let (status, created) = host.api_send("POST", &admin, "/v1/channels", &body).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["webhook_url"].as_str().unwrap().ends_with("/hooks/acme-2"));
    assert_eq!(created["settings"]["api-token"], "********");
    let (status, answer) = host.api_send("POST", &admin, "/v1/channels", &json!({ "id": "acme-3", "connector": "signed-webhook" })).await;
    assert_eq!(status, 422);
    assert!(answer["error"]["message"].as_str().unwrap().contains("requires setting `signing-secret`"), "{answer}");
    let (status, _) = host.api_send("POST", &admin, "/v1/channels", &json!({ "id": "other", "connector": "signed-webhook", "settings": {} })).await;
    assert_eq!(status, 409, "another tenant's channel id is taken");
    assert_eq!(post_events(&host, "acme-2", json!([inbound("n-1", "cust-2", "via the new channel")])).await.status(), 200);

    // Users and presence.
    let (status, user) = host.api_send("POST", &admin, "/v1/users", &json!({ "name": "Linus", "role": "agent" })).await;
    assert_eq!(status, 201);
    let new_token = user["token"].as_str().unwrap();
    let (status, me) = host.api_send("PUT", new_token, "/v1/me/presence", &json!({ "presence": "available", "capacity": { "whatsapp": 4, "voice": 1 } })).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["presence"], "available");
    assert_eq!(me["user"]["capacity"]["voice"], 1);
    let (status, _) = host.api_send("PUT", new_token, "/v1/me/presence", &json!({ "presence": "asleep" })).await;
    assert_eq!(status, 422);

    // Two contacts (one per channel, different numbers) merged into one: the survivor keeps both
    // identities and both conversations.
    post_events(&host, "demo", json!([{ "type": "message", "id": "m-9", "from": { "id": "cust-9", "name": "Bo" }, "text": "hi" }])).await;
    let (_, page) = host.api_get(&agent, "/v1/conversations").await;
    let contacts: Vec<String> = page["items"].as_array().unwrap().iter().map(|c| c["contact_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(contacts.len(), 2);
    let (status, merged) = host.api_send("POST", &agent, &format!("/v1/contacts/{}/merge", contacts[1]), &json!({ "from": contacts[0] })).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["identities"].as_array().unwrap().len(), 2);
    let (_, page) = host.api_get(&agent, &format!("/v1/conversations?contact_id={}", contacts[1])).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (status, _) = host.api_send("POST", &agent, &format!("/v1/contacts/{}/merge", contacts[1]), &json!({ "from": contacts[0] })).await;
    assert_eq!(status, 404, "an already merged contact cannot be merged again");
}
on_both!(admin_api_channels_users_presence_and_merge);

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let provider = accepting_provider().await;
    let (host, _dir) = host_on(Backend::Sqlite, &provider).await;
    let doc: Value = host.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/conversations", "/v1/conversations/{id}", "/v1/conversations/{id}/messages", "/v1/conversations/{id}/assign",
        "/v1/conversations/{id}/claim", "/v1/conversations/{id}/status", "/v1/conversations/{id}/priority",
        "/v1/conversations/{id}/labels", "/v1/conversations/{id}/notes", "/v1/conversations/{id}/typing", "/v1/messages/{id}",
        "/v1/contacts", "/v1/contacts/{id}", "/v1/contacts/{id}/attributes", "/v1/contacts/{id}/notes", "/v1/contacts/{id}/merge",
        "/v1/channels", "/v1/channels/{id}", "/v1/users", "/v1/me", "/v1/me/presence", "/v1/events", "/hooks/{channel}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
}
