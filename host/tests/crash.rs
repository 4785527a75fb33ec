//! Crash safety with a real child process killed with SIGKILL at a failpoint: a webhook is either
//! committed (and its retry creates no duplicate) or not (and its retry stores it).

use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "crash-secret";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    port: u16,
}

fn setup() -> Setup {
    setup_with("https://api.example.com", "")
}

/// A host on a SQLite file in a temporary directory whose channel sends to `api_base_url`, with
/// `more` TOML appended.
fn setup_with(api_base_url: &str, more: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let connectors = dir.path().join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    let wasm = workspace().join("target/connectors/signed-webhook.wasm");
    assert!(wasm.is_file(), "run scripts/build-connectors.sh first");
    std::fs::copy(&wasm, connectors.join("signed-webhook.wasm")).unwrap();
    let port = free_port();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
listen = "127.0.0.1:{port}"
[storage]
url = "sqlite://{db}"
[runtime]
connector_dir = "{connectors}"
cache_dir = "{cache}"
reload_interval_ms = 0
[[channels]]
id = "demo"
tenant = "acme"
connector = "signed-webhook"
allow_private_egress = true
[channels.settings]
signing-secret = "{SECRET}"
api-token = "t"
api-base-url = "{api_base_url}"
{more}
"#,
            db = dir.path().join("sb.db").display(),
            connectors = connectors.display(),
            cache = workspace().join("target/test-cache").display(),
        ),
    )
    .unwrap();
    Setup { dir, config, port }
}

fn spawn(setup: &Setup, failpoint: Option<&str>) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.args(["serve", "--config", setup.config.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::inherit());
    command.env("RUST_LOG", "warn");
    if let Some(point) = failpoint {
        command.env("FAILPOINTS", point);
    }
    command.spawn().unwrap()
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the host did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signed(body: &str) -> String {
    format!("sha256={}", hex_encode(&switchboard_sdk::signature::hmac_sha256(SECRET.as_bytes(), body.as_bytes())))
}

fn webhook() -> (String, String) {
    let body = serde_json::json!({ "events": [{ "type": "message", "id": "crash-1", "from": { "id": "c1" }, "text": "hello" }] }).to_string();
    let signature = format!("sha256={}", hex_encode(&switchboard_sdk::signature::hmac_sha256(SECRET.as_bytes(), body.as_bytes())));
    (body, signature)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn post(port: u16) -> reqwest::Result<reqwest::Response> {
    let (body, signature) = webhook();
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/hooks/demo"))
        .header("x-signature-256", signature)
        .body(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
}

async fn stored_messages(dir: &Path) -> i64 {
    let url = format!("sqlite://{}?mode=ro", dir.join("sb.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(&mut conn).await.unwrap()
}

async fn kill_at(failpoint: &str) -> Setup {
    let setup = setup();
    let mut child = spawn(&setup, Some(failpoint));
    wait_ready(setup.port).await;
    let port = setup.port;
    let pending = tokio::spawn(async move { post(port).await });
    // Give the request time to reach the failpoint, then kill the process where it stands.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!pending.is_finished(), "the request must be held at the failpoint");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(pending.await.unwrap().is_err(), "the provider saw no reply");
    setup
}

async fn retry_after_restart(setup: &Setup) {
    let mut child = spawn(setup, None);
    wait_ready(setup.port).await;
    let response = post(setup.port).await.unwrap();
    assert_eq!(response.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_commit_the_retry_creates_no_duplicate() {
    let setup = kill_at("ingest.after_commit").await;
    assert_eq!(stored_messages(setup.dir.path()).await, 1, "the commit happened before the kill");
    retry_after_restart(&setup).await;
    assert_eq!(stored_messages(setup.dir.path()).await, 1, "the provider's retry is recognised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_commit_the_retry_stores_the_message() {
    let setup = kill_at("ingest.before_commit").await;
    assert_eq!(stored_messages(setup.dir.path()).await, 0, "nothing was committed");
    retry_after_restart(&setup).await;
    assert_eq!(stored_messages(setup.dir.path()).await, 1);
}

/// A provider on a loopback port that records the `reference` of every message sent to it.
async fn recording_provider() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let sent: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = sent.clone();
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let log = log.clone();
        async move {
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let reference = body["reference"].as_str().unwrap_or_default().to_string();
            let mut log = log.lock().unwrap();
            log.push(reference);
            ([("content-type", "application/json")], format!(r#"{{"id":"prov-{}"}}"#, log.len()))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_handed_to_a_dispatcher_that_dies_is_delivered_after_its_lease() {
    // The writer leases a queued message to its host's dispatcher and hands it over in memory;
    // the host is killed before the send. The lease outlives the process, and when it ends the
    // next host claims the message and delivers it, once.
    let (provider, sent) = recording_provider().await;
    let setup = setup_with(&provider, "[delivery]\nlease_ms = 6000");
    let mut child = spawn(&setup, Some("dispatch.before_send"));
    wait_ready(setup.port).await;
    let port = setup.port;
    let client = reqwest::Client::new();
    let body = serde_json::json!({ "events": [{ "type": "message", "id": "in-1", "from": { "id": "c1" }, "text": "hello" }] }).to_string();
    let hook = client.post(format!("http://127.0.0.1:{port}/hooks/demo")).header("x-signature-256", signed(&body)).body(body).send().await.unwrap();
    assert_eq!(hook.status(), 200);
    let db = switchboard::store::Db::connect(&format!("sqlite://{}", setup.dir.path().join("sb.db").display())).await.unwrap();
    let user = switchboard::store::users::create_user(&db, "acme", "Ada", "agent").await.unwrap();
    let token = switchboard::store::users::create_token(&db, "acme", &user).await.unwrap();
    let page: serde_json::Value =
        client.get(format!("http://127.0.0.1:{port}/v1/conversations")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let conversation = page["items"][0]["id"].as_str().expect("the webhook opened a conversation").to_string();
    let queued = client
        .post(format!("http://127.0.0.1:{port}/v1/conversations/{conversation}/messages"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "text": "we are on it" }))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 202);
    let id = queued.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    // The dispatcher holds the message at the failpoint; kill the host there.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let owner: Option<String> = sqlx::query_scalar("SELECT lease_owner FROM outbox WHERE message_id = $1").bind(&id).fetch_one(&db.pool).await.unwrap();
    assert!(owner.is_some(), "the writer leased the message to its dispatcher");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(sent.lock().unwrap().is_empty(), "nothing was sent before the kill");

    let mut child = spawn(&setup, None);
    wait_ready(setup.port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while sent.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the message was not delivered after its lease ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(*sent.lock().unwrap(), vec![id], "delivered once");
}
