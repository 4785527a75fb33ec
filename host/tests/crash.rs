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
[channels.settings]
signing-secret = "{SECRET}"
api-token = "t"
api-base-url = "https://api.example.com"
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
