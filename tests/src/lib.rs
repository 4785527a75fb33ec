//! The test harness: start a real host in-process on a loopback port, with real connectors built
//! to wasm (`scripts/build-connectors.sh --tests`), and fake providers that record what they get.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use switchboard::app::Host;
use switchboard::config::{ChannelConfig, Config};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_path_buf()
}

fn built(dir: &str, name: &str) -> PathBuf {
    let path = workspace().join("target").join(dir).join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: run `scripts/build-connectors.sh --tests` before the tests (the README's test command does)",
        path.display()
    );
    path
}

/// A shipped connector, built to `target/connectors`.
pub fn connector(name: &str) -> PathBuf {
    built("connectors", name)
}

/// A test-only component, built to `target/test-connectors`.
pub fn test_component(name: &str) -> PathBuf {
    built("test-connectors", name)
}

/// Log lines written by every host in this test process.
pub fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        logs
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::io::stderr().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// True when some captured log line contains every one of `needles`.
pub fn logged(needles: &[&str]) -> bool {
    let logs = captured_logs().lock().unwrap();
    String::from_utf8_lossy(&logs).lines().any(|line| needles.iter().all(|n| line.contains(n)))
}

/// A configuration for a test host: loopback port 0, files in `dir`, no connector directory,
/// a shared compiled cache so tests do not recompile the same components.
pub fn config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.storage.url = format!("sqlite://{}", dir.join("switchboard.db").display());
    config.runtime.connector_dir = dir.join("connectors");
    config.runtime.cache_dir = workspace().join("target").join("test-cache");
    config.runtime.call_deadline_ms = 2_000;
    config.runtime.reload_interval_ms = 0;
    config
}

/// A channel declaration.
pub fn channel(id: &str, tenant: &str, connector: &str, settings: &[(&str, &str)]) -> ChannelConfig {
    ChannelConfig {
        id: id.into(),
        tenant: tenant.into(),
        connector: connector.into(),
        settings: settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        egress: None,
        allow_private_egress: false,
        human_agent_tag: false,
    }
}

/// A running host and an HTTP client for it.
pub struct TestHost {
    /// The host.
    pub host: Host,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// A client.
    pub client: reqwest::Client,
}

impl TestHost {
    /// Start a host with this configuration.
    pub async fn start(mut config: Config) -> TestHost {
        captured_logs();
        // Public URL must match the real port, which is only known after binding; tests that
        // need it set `server.public_url` themselves.
        config.server.public_url.get_or_insert_with(|| "http://127.0.0.1".into());
        let host = Host::start(config).await.expect("the test host starts");
        let base = format!("http://{}", host.addr);
        TestHost { host, base, client: reqwest::Client::new() }
    }

    /// POST a body to a channel's webhook with extra headers.
    pub async fn post_hook(&self, channel: &str, body: impl Into<Vec<u8>>, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.post(format!("{}/hooks/{channel}", self.base)).body(body.into());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send().await.expect("the host answers")
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("the host answers")
    }
}

/// One request a fake provider received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub uri: Uri,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// How a fake provider answers: status, content type, body.
pub type Answer = (u16, &'static str, String);

/// A loopback HTTP server standing in for a provider's API.
pub struct FakeProvider {
    /// `127.0.0.1:port`.
    pub addr: std::net::SocketAddr,
    /// What it received, in order.
    pub received: Arc<Mutex<Vec<Recorded>>>,
    /// TCP connections it accepted.
    pub connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeProvider {
    /// Start one; `answer` sees each request (and how many came before it) and decides the reply.
    pub async fn start(answer: impl Fn(&Recorded, usize) -> Answer + Send + Sync + 'static) -> FakeProvider {
        let received: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let answer = Arc::new(answer);
        let log = received.clone();
        let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            let answer = answer.clone();
            async move {
                let recorded = Recorded { method, uri, headers, body };
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(recorded.clone());
                    log.len() - 1
                };
                let (status, content_type, body) = answer(&recorded, n);
                (StatusCode::from_u16(status).unwrap(), [("content-type", content_type)], body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let accepted = connections.clone();
        let listener = axum::serve::ListenerExt::tap_io(listener, move |_| {
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeProvider { addr, received, connections }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }
}

/// `sha256=<hex>` HMAC-SHA256 of `body`, the way Meta and the example connector sign.
pub fn sign_sha256(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(switchboard_sdk::signature::hmac_sha256(secret.as_bytes(), body)))
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's directory.
    Sqlite,
    /// A fresh schema in the local PostgreSQL's `test` database.
    Postgres,
}

/// The local PostgreSQL, as CI starts it.
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database URL for a test: a SQLite file in `dir`, or a fresh PostgreSQL schema.
pub async fn database_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("switchboard.db").display()),
        Backend::Postgres => {
            let schema = format!("t_{}", uuid_like());
            let mut admin = PgAdmin::connect().await;
            admin.execute(&format!("CREATE SCHEMA {schema}")).await;
            format!("{POSTGRES}?options=-c%20search_path%3D{schema}")
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}_{}_{}", nanos, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A plain connection to the test database for set-up statements.
pub struct PgAdmin(sqlx::PgConnection);

impl PgAdmin {
    /// Connect, with a message that says how to start PostgreSQL when it is down.
    pub async fn connect() -> PgAdmin {
        use sqlx::Connection;
        let conn = sqlx::PgConnection::connect(POSTGRES).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at 127.0.0.1:5432 (database `test`) is needed: {e}. Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`")
        });
        PgAdmin(conn)
    }

    /// Run one statement.
    pub async fn execute(&mut self, sql: &str) {
        use sqlx::Executor;
        self.0.execute(sql).await.unwrap();
    }
}

/// A test configuration on this backend.
pub async fn config_on(backend: Backend, dir: &Path) -> Config {
    let mut config = config(dir);
    config.storage.url = database_url(backend, dir).await;
    if backend == Backend::Postgres {
        config.storage.encryption_key = Some("11".repeat(32));
    }
    config.delivery.retry_base_ms = 50;
    config.delivery.poll_interval_ms = 50;
    config
}

/// Create a user with a token directly in the host's database.
pub async fn token(host: &TestHost, tenant: &str, role: &str) -> (String, String) {
    let db = &host.host.db;
    let user = switchboard::store::users::create_user(db, tenant, &format!("{role} of {tenant}"), role).await.unwrap();
    let token = switchboard::store::users::create_token(db, tenant, &user).await.unwrap();
    (user, token)
}

impl TestHost {
    /// GET a JSON API path with a token; returns status and body.
    pub async fn api_get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Send a JSON body to an API path with a token; returns status and body.
    pub async fn api_send(&self, method: &str, token: &str, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Poll `check` every 20 ms for up to 10 s until it returns a value.
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The shared provider fixtures (`../shared/fixtures/providers` beside the repository).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = workspace().parent().unwrap().join("shared/fixtures/providers").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// The `X-Hub-Signature-256` header listed for a fixture in `meta-signature-vectors.txt`.
pub fn meta_signature_of(name: &str) -> String {
    let vectors = String::from_utf8(fixture("meta-signature-vectors.txt")).unwrap();
    vectors
        .lines()
        .find_map(|line| {
            let (file, rest) = line.split_once("  X-Hub-Signature-256: ")?;
            (file.trim() == name).then(|| rest.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no signature for {name} in meta-signature-vectors.txt"))
}

/// `X-Twilio-Signature` for a form body posted to `url`.
pub fn sign_twilio(auth_token: &str, url: &str, form: &str) -> String {
    use base64::Engine as _;
    let pairs: Vec<(String, String)> = switchboard_sdk::form::Form::parse(form.as_bytes()).pairs;
    let message = switchboard_sdk::signature::twilio_signed_message(url, &pairs);
    base64::engine::general_purpose::STANDARD.encode(switchboard_sdk::signature::hmac_sha1(auth_token.as_bytes(), message.as_bytes()))
}

/// The element names of an XML document, in document order (checks that it parses).
pub fn xml_elements(xml: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut names = Vec::new();
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not XML ({e}): {xml}")) {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            quick_xml::events::Event::Eof => return names,
            _ => {}
        }
    }
}
