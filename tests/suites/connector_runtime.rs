//! The connector runtime, driven over HTTP through a real host: the example connector end to
//! end, and the sandbox's promises against a connector that misbehaves on request.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchboard::runtime::bindings::v0_1::switchboard::connector::types as wit;
use switchboard_tests::*;

const SECRET: &str = "webhook-secret";
const TOKEN: &str = "api-token-123";

async fn example_host(provider: &FakeProvider) -> (TestHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.runtime.connectors = vec![connector("signed-webhook")];
    let mut ch = channel(
        "demo",
        "acme",
        "signed-webhook",
        &[("signing-secret", SECRET), ("api-token", TOKEN), ("api-base-url", &provider.url())],
    );
    ch.allow_private_egress = true;
    config.channels.push(ch);
    (TestHost::start(config).await, dir)
}

fn webhook_body() -> String {
    serde_json::json!({
        "events": [
            {"type": "message", "id": "m-1", "from": {"id": "cust-7", "name": "Ada", "phone": "+15550001"}, "text": "Hello there", "timestamp": 1700000000000u64},
            {"type": "status", "message_id": "out-3", "state": "failed", "error": {"code": "E42", "title": "blocked"}},
            {"type": "mystery", "id": 5}
        ]
    })
    .to_string()
}

#[tokio::test]
async fn example_connector_verifies_signatures_over_http() {
    let provider = FakeProvider::start(|_, _| (200, "application/json", "{}".into())).await;
    let (host, _dir) = example_host(&provider).await;
    let body = webhook_body();

    let ok = host.post_hook("demo", body.clone(), &[("x-signature-256", &sign_sha256(SECRET, body.as_bytes()))]).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), r#"{"ok":true}"#);

    let wrong = host.post_hook("demo", body.clone(), &[("x-signature-256", &sign_sha256("other", body.as_bytes()))]).await;
    assert_eq!(wrong.status(), 401);
    let error: serde_json::Value = wrong.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("does not match"), "{error}");

    let missing = host.post_hook("demo", body.clone(), &[]).await;
    assert_eq!(missing.status(), 401);

    let unknown = host.post_hook("nope", body.clone(), &[]).await;
    assert_eq!(unknown.status(), 404);

    let get = host.client.get(format!("{}/hooks/demo", host.base)).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

#[tokio::test]
async fn example_connector_translates_events_and_sends_to_the_provider() {
    let provider = FakeProvider::start(|request, _| {
        // Check the request the way the provider's API documents it.
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            return (401, "application/json", r#"{"error":"bad token"}"#.into());
        }
        if request.uri.path() != "/messages" || request.method != "POST" {
            return (404, "application/json", "{}".into());
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        if body["to"].as_str().is_none() || body["text"].as_str().is_none() {
            return (400, "application/json", r#"{"error":"to and text are required"}"#.into());
        }
        match body["text"].as_str().unwrap() {
            "slow down" => (429, "application/json", r#"{"error":"rate"}"#.into()),
            "boom" => (503, "application/json", r#"{"error":"down"}"#.into()),
            _ => (200, "application/json", r#"{"id":"prov-991"}"#.into()),
        }
    })
    .await;
    let (host, _dir) = example_host(&provider).await;
    let runtime = host.host.connectors.runtime().clone();
    let connector = host.host.connectors.get("signed-webhook").unwrap();
    let context = host.host.channels.context("demo", &connector).unwrap();

    let body = webhook_body();
    let request = wit::HttpRequest {
        method: "POST".into(),
        url: "http://127.0.0.1/hooks/demo".into(),
        path: "/hooks/demo".into(),
        query: String::new(),
        headers: vec![wit::Header { name: "x-signature-256".into(), value: sign_sha256(SECRET, body.as_bytes()) }],
        body: body.into_bytes(),
    };
    let outcome = runtime.handle_webhook(&connector, context.clone(), request).await.unwrap().unwrap();
    assert_eq!(outcome.events.len(), 3);
    let wit::Event::Message(message) = &outcome.events[0] else { panic!("first event is a message") };
    assert_eq!(message.provider_message_id, "m-1");
    assert_eq!(message.contact.id, "cust-7");
    assert_eq!(message.contact.phone.as_deref(), Some("+15550001"));
    assert!(matches!(&message.parts[..], [wit::ContentPart::Text(t)] if t == "Hello there"));
    let wit::Event::Status(status) = &outcome.events[1] else { panic!("second event is a status") };
    assert_eq!(status.state, wit::DeliveryState::Failed);
    assert_eq!(status.failure.as_ref().unwrap().error.code, "E42");
    let wit::Event::Message(unknown) = &outcome.events[2] else { panic!("unknown events are kept") };
    assert!(matches!(&unknown.parts[..], [wit::ContentPart::Unsupported(u)] if u.raw.contains("mystery")));

    let send = |text: &str| wit::OutboundMessage {
        message_id: "msg-1".into(),
        to: "cust-7".into(),
        content: wit::OutboundContent::Text(text.into()),
        reply_to: Some("m-1".into()),
        tag: None,
        metadata: Vec::new(),
    };
    let receipt = runtime.send(&connector, context.clone(), send("Hi Ada")).await.unwrap().unwrap();
    assert_eq!(receipt.provider_message_id, "prov-991");
    let requests = provider.requests();
    assert_eq!(requests.len(), 1);
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(sent["to"], "cust-7");
    assert_eq!(sent["text"], "Hi Ada");
    assert_eq!(sent["reply_to"], "m-1");
    assert_eq!(sent["reference"], "msg-1");
    assert_eq!(requests[0].headers["content-type"], "application/json");

    let limited = runtime.send(&connector, context.clone(), send("slow down")).await.unwrap().unwrap_err();
    assert!(matches!(limited, wit::SendError::RateLimited((None, ref e)) if e.code == "429"), "{limited:?}");
    let down = runtime.send(&connector, context.clone(), send("boom")).await.unwrap().unwrap_err();
    assert!(matches!(down, wit::SendError::Transient(_)), "{down:?}");
}

async fn testbed_host(tweak: impl FnOnce(&mut switchboard::config::Config)) -> (TestHost, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.runtime.connectors = vec![test_component("testbed")];
    config.channels.push(channel("bed", "acme", "testbed", &[]));
    tweak(&mut config);
    (TestHost::start(config).await, dir)
}

async fn assert_ok(host: &TestHost) {
    let response = host.post_hook("bed", "ok", &[]).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().starts_with("version=0.1.0 greeting=hello"));
}

#[tokio::test]
async fn endless_loop_is_stopped_within_twice_its_deadline() {
    let (host, _dir) = testbed_host(|c| c.runtime.call_deadline_ms = 400).await;
    let started = Instant::now();
    let response = host.post_hook("bed", "loop", &[]).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 502);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("deadline"), "{error}");
    assert!(took < Duration::from_millis(800), "stopped after {took:?}, more than twice the 400 ms deadline");
    assert_ok(&host).await;
}

#[tokio::test]
async fn memory_bomb_fails_at_its_cap() {
    let (host, _dir) = testbed_host(|c| c.runtime.memory_limit_mib = 16).await;
    let response = host.post_hook("bed", "alloc", &[]).await;
    assert_eq!(response.status(), 502);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("memory cap of 16 MiB"), "{error}");
    assert_ok(&host).await;
    let metrics = host.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("switchboard_connector_memory_cap_hits_total 1"), "{metrics}");
}

#[tokio::test]
async fn trap_fails_only_its_own_call() {
    let (host, _dir) = testbed_host(|_| {}).await;
    let response = host.post_hook("bed", "trap", &[]).await;
    assert_eq!(response.status(), 502);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(error["error"]["message"].as_str().unwrap().contains("trapped"), "{error}");
    // The panic's message, which the connector writes to standard error, is in the host's log.
    assert!(logged(&["testbed asked to trap", "channel=bed", "connector=testbed"]));
    assert_ok(&host).await;
}

/// The two ways out of a connector: the contract's `http` import (0.2.0), and `wasi:http`, which
/// connectors built against 0.1.0 use. Both pass the same checks.
const EGRESS_COMMANDS: [&str; 2] = ["egress", "wasi-egress"];

#[tokio::test]
async fn egress_outside_the_allow_list_is_denied_and_logged() {
    let target = FakeProvider::start(|_, _| (200, "text/plain", "hi".into())).await;
    let url = target.url();

    // The connector declares only example.com: loopback is not on its list.
    let (host, _dir) = testbed_host(|_| {}).await;
    for command in EGRESS_COMMANDS {
        let text = host.post_hook("bed", format!("{command} {url}/"), &[]).await.text().await.unwrap();
        assert!(text.starts_with("failed egress denied"), "{command}: {text}");
    }
    // The import passes the reason on to the connector.
    let text = host.post_hook("bed", format!("egress {url}/"), &[]).await.text().await.unwrap();
    assert!(text.contains(&format!("`127.0.0.1:{}` is not on", target.addr.port())), "{text}");
    assert!(logged(&["egress denied", "channel=bed", &format!("`127.0.0.1:{}` is not on", target.addr.port())]));
    let metrics = host.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("switchboard_egress_denied_total 3"), "{metrics}");
    assert!(target.requests().is_empty());

    // The operator allows the address, but not private ranges: still denied.
    let (host, _dir2) = testbed_host(|c| c.channels[0].egress = Some(vec![target.addr.to_string()])).await;
    for command in EGRESS_COMMANDS {
        let text = host.post_hook("bed", format!("{command} {url}/"), &[]).await.text().await.unwrap();
        assert!(text.starts_with("failed egress denied"), "{command}: {text}");
    }
    assert!(logged(&["egress denied", "non-public address 127.0.0.1"]));
    assert!(target.requests().is_empty());

    // With private egress explicitly allowed, the request goes through.
    let (host, _dir3) = testbed_host(|c| {
        c.channels[0].egress = Some(vec![target.addr.to_string()]);
        c.channels[0].allow_private_egress = true;
    })
    .await;
    // Through the import, the response's status, headers and body reach the connector.
    let text = host.post_hook("bed", format!("egress {url}/"), &[]).await.text().await.unwrap();
    assert_eq!(text, "reached 200 text/plain hi");
    let text = host.post_hook("bed", format!("wasi-egress {url}/"), &[]).await.text().await.unwrap();
    assert_eq!(text, "reached 200");
    let requests = target.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.method == "GET" && r.headers["host"] == target.addr.to_string()), "{:?}", requests[0].headers);
}

#[tokio::test]
async fn connectors_of_both_contract_versions_run_side_by_side() {
    let (host, _dir) = testbed_host(|c| {
        c.runtime.connectors.push(test_component("contract-0-1"));
        c.channels.push(channel("old", "acme", "legacy", &[]));
    })
    .await;
    let text = host.post_hook("old", "hi", &[]).await.text().await.unwrap();
    assert_eq!(text, "contract 0.1.0 hi");
    assert_ok(&host).await;
}

#[tokio::test]
async fn a_response_larger_than_the_call_may_hold_is_refused_whole() {
    // 5 MiB, against a cap of 4 MiB per call.
    let target = FakeProvider::start(|_, _| (200, "application/octet-stream", "7".repeat(5 << 20))).await;
    let (host, _dir) = testbed_host(|c| {
        c.runtime.memory_limit_mib = 4;
        c.channels[0].egress = Some(vec![target.addr.to_string()]);
        c.channels[0].allow_private_egress = true;
    })
    .await;
    let text = host.post_hook("bed", format!("egress {}/", target.url()), &[]).await.text().await.unwrap();
    assert_eq!(text, format!("failed the response is larger than the {} bytes a connector call may hold", 4 << 20));
    // The host and the connector go on.
    assert_ok(&host).await;
}

#[tokio::test]
async fn channel_state_outlives_fresh_instances() {
    let (host, _dir) = testbed_host(|_| {}).await;
    for expected in 1..=3 {
        let text = host.post_hook("bed", "count", &[]).await.text().await.unwrap();
        assert_eq!(text, expected.to_string());
    }
}

#[tokio::test]
async fn guest_logs_reach_the_host_with_channel_fields() {
    let (host, _dir) = testbed_host(|_| {}).await;
    let response = host.post_hook("bed", "log marker-5512", &[]).await;
    assert_eq!(response.status(), 204);
    assert!(logged(&["marker-5512", "tenant=acme", "channel=bed", "connector=testbed"]));
}

#[tokio::test]
async fn what_a_connector_prints_reaches_the_host_log_line_by_line() {
    let (host, _dir) = testbed_host(|_| {}).await;
    let response = host.post_hook("bed", "print marker-7730", &[]).await;
    assert_eq!(response.status(), 204);
    // Standard output at info, standard error at warn; a line written in pieces is one entry.
    assert!(logged(&["INFO", "marker-7730", "channel=bed", "connector=testbed"]));
    assert!(logged(&["WARN", "marker-7730!", "channel=bed", "connector=testbed"]));
    // Text without a line end is logged when the call returns.
    assert!(logged(&["INFO", "tail-marker-7730", "channel=bed"]));
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let (host, _dir) = testbed_host(|c| c.server.max_body_bytes = 1024).await;
    let response = host.post_hook("bed", vec![b'x'; 4096], &[]).await;
    assert_eq!(response.status(), 413);
    assert_ok(&host).await;
}

#[tokio::test]
async fn hot_reload_under_concurrent_calls_fails_no_call() {
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    let live = connectors.join("testbed.wasm");
    std::fs::copy(test_component("testbed"), &live).unwrap();
    let mut config = config(dir.path());
    config.runtime.reload_interval_ms = 50;
    config.channels.push(channel("bed", "acme", "testbed", &[]));
    let host = Arc::new(TestHost::start(config).await);

    let failures = Arc::new(AtomicUsize::new(0));
    let v1 = Arc::new(AtomicUsize::new(0));
    let v2 = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (host, failures, v1, v2) = (host.clone(), failures.clone(), v1.clone(), v2.clone());
        workers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            // Keep calling until the new version has served a good number of calls.
            while v2.load(Ordering::Relaxed) < 30 && Instant::now() < deadline {
                let response = host.post_hook("bed", "ok", &[]).await;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                if status != 200 {
                    failures.fetch_add(1, Ordering::Relaxed);
                } else if text.starts_with("version=0.1.0") {
                    v1.fetch_add(1, Ordering::Relaxed);
                } else if text.starts_with("version=0.2.0") {
                    v2.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Let version 1 serve for a while, then replace the file the way deploys should: atomically.
    while v1.load(Ordering::Relaxed) < 30 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let staged = dir.path().join("testbed.wasm.new");
    std::fs::copy(test_component("testbed-v2"), &staged).unwrap();
    std::fs::rename(&staged, &live).unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no call may fail during a reload");
    assert!(v2.load(Ordering::Relaxed) >= 30, "the new version took over");
    assert_eq!(host.host.connectors.get("testbed").unwrap().info.version, "0.2.0");

    // A broken file is refused and the running version keeps serving.
    std::fs::write(&staged, b"\0asm\x0d\0\x01\0truncated").unwrap();
    std::fs::rename(&staged, &live).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let response = host.post_hook("bed", "ok", &[]).await;
    assert!(response.text().await.unwrap().starts_with("version=0.2.0"));
    assert!(logged(&["connector reload refused", "testbed.wasm"]));
}
