//! The benchmark runner: B0 and B2–B6 of BENCHMARKS.md, with B1 read from the criterion run.
//! Prints a table and writes `target/bench/results.json`. Run it with `scripts/bench.sh`.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use switchboard::store::Db;
use switchboard_bench::*;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// This run's PostgreSQL schema.
fn pg_schema_name() -> String {
    format!("bench_{}", std::process::id())
}

/// Drop this run's schema, so runs leave nothing behind in the shared database.
async fn drop_pg_schema() -> anyhow::Result<()> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::PgConnection::connect(POSTGRES).await?;
    conn.execute(format!("DROP SCHEMA IF EXISTS {} CASCADE", pg_schema_name()).as_str()).await?;
    Ok(())
}

async fn pg_schema() -> anyhow::Result<String> {
    use sqlx::{Connection, Executor};
    let schema = pg_schema_name();
    let mut conn = sqlx::PgConnection::connect(POSTGRES).await?;
    conn.execute(format!("DROP SCHEMA IF EXISTS {schema} CASCADE").as_str()).await?;
    conn.execute(format!("CREATE SCHEMA {schema}").as_str()).await?;
    Ok(format!("{POSTGRES}?options=-c%20search_path%3D{schema}"))
}

/// B0: a bare hyper server that reads the body and answers 200.
async fn bare_hyper(n: u64, concurrency: usize) -> LoadResult {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
            });
        }
    });
    drive(&format!("http://{addr}"), n, concurrency, |i| ("/".into(), Vec::new(), signed_text_webhook(i))).await
}

/// The shipped binary, as a child process on `storage`, with one WhatsApp channel `wa` (tenant
/// `bench`) whose Graph API is `graph_url`: the host that B2–B4 measure.
struct HostProcess {
    child: Reaped,
    base: String,
    db: Db,
}

impl HostProcess {
    async fn start(dir: &std::path::Path, storage: &str, graph_url: &str) -> anyhow::Result<HostProcess> {
        let port = free_port();
        let settings: String = whatsapp_settings(graph_url).iter().map(|(k, v)| format!("{k} = \"{v}\"\n")).collect();
        let channel = format!(
            "[delivery]\npoll_interval_ms = 20\n[[channels]]\nid = \"wa\"\ntenant = \"bench\"\nconnector = \"whatsapp\"\nallow_private_egress = true\n[channels.settings]\n{settings}"
        );
        let config = write_config(dir, port, storage, &channel);
        let child = spawn_host(&config);
        if wait_ready(port, Duration::from_secs(60)).await.is_none() {
            anyhow::bail!("the host did not become ready; run it by hand with --config {}", config.display());
        }
        let db = Db::connect(storage).await?;
        Ok(HostProcess { child, base: format!("http://127.0.0.1:{port}"), db })
    }

    fn stop(self) {
        drop(self.child);
    }
}

/// A child process killed and reaped when dropped, so that no path out of a benchmark, an error
/// included, leaves a host running.
struct Reaped(Child);

impl Reaped {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// B2/B3: signed webhooks with unique ids into a durable host; the database must hold exactly N.
/// Without a storage URL, a SQLite file in a temporary directory.
async fn ingest(storage: Option<String>, n: u64, concurrency: usize) -> anyhow::Result<(LoadResult, f64)> {
    let dir = tempfile::tempdir()?;
    let storage = storage.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("b2.db").display()));
    let host = HostProcess::start(dir.path(), &storage, "https://graph.facebook.com").await?;
    let cpu_before = cpu_ms(host.child.id());
    let result = drive(&host.base, n, concurrency, |i| {
        let body = signed_text_webhook(i + 1_000_000);
        let headers = vec![("x-hub-signature-256".to_string(), meta_signature(&body)), ("content-type".into(), "application/json".into())];
        ("/hooks/wa".into(), headers, body)
    })
    .await;
    let host_cpu_us = (cpu_ms(host.child.id()) - cpu_before) * 1000.0 / n as f64;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(&host.db.pool).await?;
    host.stop();
    anyhow::ensure!(stored as u64 == n && result.errors == 0, "the database holds {stored} messages for {n} webhooks ({} errors)", result.errors);
    Ok((result, host_cpu_us))
}

/// End-to-end latencies of B4, in milliseconds: from the API request of send `i` to its
/// arrival at the fake provider.
#[derive(Debug, Clone, Copy, Default)]
struct EndToEnd {
    p50_ms: f64,
    p99_ms: f64,
}

/// When each send was asked for and when it reached the provider: nanoseconds since `origin`
/// (zero until it happens).
struct Timeline {
    origin: Instant,
    asked: Vec<AtomicU64>,
    arrived: Vec<AtomicU64>,
}

impl Timeline {
    fn new(n: u64) -> Timeline {
        let zeros = || (0..n).map(|_| AtomicU64::new(0)).collect();
        Timeline { origin: Instant::now(), asked: zeros(), arrived: zeros() }
    }

    fn mark(&self, marks: &[AtomicU64], i: usize) {
        if let Some(mark) = marks.get(i) {
            mark.store(self.origin.elapsed().as_nanos().max(1) as u64, Ordering::Relaxed);
        }
    }

    /// The send a provider request carries: its text is `message <i>`.
    fn send_of(body: &[u8]) -> Option<usize> {
        let at = body.windows(8).position(|w| w == b"message ")? + 8;
        let digits: String = body[at..].iter().take_while(|b| b.is_ascii_digit()).map(|&b| b as char).collect();
        digits.parse().ok()
    }

    fn percentiles(&self) -> EndToEnd {
        let mut all: Vec<u64> = self
            .asked
            .iter()
            .zip(&self.arrived)
            .filter_map(|(a, b)| match (a.load(Ordering::Relaxed), b.load(Ordering::Relaxed)) {
                (0, _) | (_, 0) => None,
                (a, b) => Some(b.saturating_sub(a)),
            })
            .collect();
        all.sort_unstable();
        let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).map_or(0.0, |&ns| ns as f64 / 1e6);
        EndToEnd { p50_ms: pct(0.50), p99_ms: pct(0.99) }
    }
}

/// B4: agent sends through the API, the outbox and the connector to a loopback fake Graph API.
async fn delivery(n: u64, concurrency: usize) -> anyhow::Result<(f64, LoadResult, f64, EndToEnd)> {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let timeline = Arc::new(Timeline::new(n));
    let arrivals = timeline.clone();
    // Like a real API, the fake reads the whole request before it answers.
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let counter = counter.clone();
        if let Some(i) = Timeline::send_of(&body) {
            arrivals.mark(&arrivals.arrived, i);
        }
        async move {
            let k = counter.fetch_add(1, Ordering::Relaxed);
            ([("content-type", "application/json")], format!(r#"{{"messaging_product":"whatsapp","messages":[{{"id":"wamid.OUT{k}"}}]}}"#))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    // By name, as Meta's API is (graph.facebook.com): the host resolves it like a real one.
    let graph = format!("http://localhost:{}", listener.local_addr()?.port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir()?;
    let host = HostProcess::start(dir.path(), &format!("sqlite://{}", dir.path().join("b4.db").display()), &graph).await?;
    let body = signed_text_webhook(1);
    reqwest::Client::new().post(format!("{}/hooks/wa", host.base)).header("x-hub-signature-256", meta_signature(&body)).body(body).send().await?;
    let conversation: String = sqlx::query_scalar("SELECT id FROM conversations").fetch_one(&host.db.pool).await?;
    let user = switchboard::store::users::create_user(&host.db, "bench", "bench", "agent").await?;
    let token = switchboard::store::users::create_token(&host.db, "bench", &user).await?;
    let started = Instant::now();
    let cpu_before = cpu_ms(host.child.id());
    let asks = timeline.clone();
    let api = drive(&host.base, n, concurrency, move |i| {
        asks.mark(&asks.asked, i as usize);
        let headers = vec![("authorization".to_string(), format!("Bearer {token}")), ("content-type".into(), "application/json".into())];
        (format!("/v1/conversations/{conversation}/messages"), headers, format!(r#"{{"text":"message {i}"}}"#).into_bytes())
    })
    .await;
    // Done when the outbox is empty: every message delivered (or failed, which the check catches).
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let waiting: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&host.db.pool).await?;
        if (waiting == 0 && received.load(Ordering::Relaxed) >= n) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let host_cpu_us = (cpu_ms(host.child.id()) - cpu_before) * 1000.0 / n as f64;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = received.load(Ordering::Relaxed);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT provider_message_id) FROM messages WHERE direction = 'outbound' AND status = 'queued'").fetch_one(&host.db.pool).await?;
    host.stop();
    anyhow::ensure!(sent == n && queued as u64 == n, "the provider got {sent} sends and {queued} messages are queued, for {n} messages");
    Ok((n as f64 / elapsed, api, host_cpu_us, timeline.percentiles()))
}

/// The CPU time a process has used so far (user and system, all its threads), in ms.
/// `/proc/PID/stat` counts it in clock ticks of 1/100 s (Linux's `USER_HZ`).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn spawn_host(config: &std::path::Path) -> Reaped {
    let child = Command::new(workspace().join("target/release/switchboard"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("build the release binary first: cargo build --release -p switchboard");
    Reaped(child)
}

async fn wait_ready(port: u16, deadline: Duration) -> Option<Duration> {
    let started = Instant::now();
    let client = reqwest::Client::new();
    while started.elapsed() < deadline {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status().is_success()
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// A host configuration on `db` listening on `port`, the shipped connectors, and `more` TOML.
fn write_config(dir: &std::path::Path, port: u16, db: &str, more: &str) -> std::path::PathBuf {
    let path = dir.join("host.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1\"\n[storage]\nurl = \"{db}\"\nencryption_key = \"{KEY}\"\n[runtime]\nconnector_dir = \"{}\"\ncache_dir = \"{}\"\nreload_interval_ms = 0\n[log]\nfilter = \"error\"\n{more}",
            workspace().join("target/connectors").display(),
            workspace().join("target/bench/cache").display()
        ),
    )
    .unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// B5: RSS of a host with 1,000 tenants × 4 channels, idle and under ingest load.
async fn memory(n: u64, concurrency: usize) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}", dir.path().join("b5.db").display());
    {
        let db = switchboard::store::Db::connect(&db_url).await?;
        let sealer = switchboard::store::secrets::SecretBox::from_hex(KEY).unwrap();
        let secret = |k: &str| ["app-secret", "verify-token", "access-token", "auth-token"].contains(&k);
        for t in 0..1000 {
            let tenant = format!("t{t}");
            let make = |kind: &str, settings: Vec<(&str, String)>| switchboard::channels::Channel {
                id: format!("{tenant}-{kind}"),
                tenant: tenant.clone(),
                connector: kind.to_string(),
                settings: settings.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                egress: None,
                allow_private_egress: false,
                human_agent_tag: false,
            };
            let twilio = || vec![("account-sid", "AC1".to_string()), ("auth-token", "x".to_string()), ("phone-number", "+15550000000".to_string())];
            for channel in [
                make("whatsapp", whatsapp_settings("https://graph.facebook.com")),
                make("instagram", vec![("app-secret", WA_SECRET.into()), ("verify-token", "v".into()), ("access-token", "a".into()), ("instagram-account-id", "1".into())]),
                make("sms", twilio()),
                make("voice", twilio()),
            ] {
                switchboard::store::channels::upsert(&db, &sealer, &channel, secret).await?;
            }
        }
    }
    let port = free_port();
    let config = write_config(dir.path(), port, &db_url, "");
    let child = spawn_host(&config);
    wait_ready(port, Duration::from_secs(60)).await.ok_or_else(|| anyhow::anyhow!("the B5 host did not start"))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mib(child.id());
    let pid = child.id();
    let peak = Arc::new(std::sync::Mutex::new(idle));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = rss_mib(pid);
                {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    drive(&format!("http://127.0.0.1:{port}"), n, concurrency, |i| {
        let body = signed_text_webhook(i + 5_000_000);
        ("/hooks/t7-whatsapp".into(), vec![("x-hub-signature-256".to_string(), meta_signature(&body))], body)
    })
    .await;
    sampler.abort();
    let loaded = *peak.lock().unwrap();
    drop(child);
    Ok((idle, loaded))
}

/// B6: start to ready with the shipped connectors and a warm compiled cache (median of 5).
async fn cold_start() -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut times = Vec::new();
    for run in 0..6 {
        let port = free_port();
        let config = write_config(dir.path(), port, &format!("sqlite://{}", dir.path().join("b6.db").display()), "");
        let started = Instant::now();
        let child = spawn_host(&config);
        wait_ready(port, Duration::from_secs(60)).await.ok_or_else(|| anyhow::anyhow!("the B6 host did not start"))?;
        let took = started.elapsed();
        drop(child);
        // The first run warms the cache and creates the database.
        if run > 0 {
            times.push(took.as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// B1 from criterion's estimates: median wasm and native times, in microseconds.
fn connector_call() -> Option<(f64, f64)> {
    let read = |name: &str| -> Option<f64> {
        let path = workspace().join(format!("target/criterion/connector_call/{name}/new/estimates.json"));
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        Some(json["median"]["point_estimate"].as_f64()? / 1000.0)
    };
    Some((read("wasm")?, read("native")?))
}

fn only(id: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)) {
        Some(list) => list.split(',').any(|x| x.eq_ignore_ascii_case(id)),
        None => true,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .try_init();
    let n = arg("--requests", 20_000);
    let concurrency = arg("--concurrency", 64) as usize;
    let mut rows: Vec<Row> = Vec::new();
    let row = |id, what: String, value: f64, unit, baseline: Option<f64>, target, met: Option<bool>| Row {
        id,
        what,
        value,
        unit,
        ratio: baseline.map(|b| value / b),
        baseline,
        target,
        met,
    };

    if only("b1") && let Some((wasm, native)) = connector_call() {
        let overhead = wasm - native;
        rows.push(row("B1", format!("handle-webhook, fresh instance: {wasm:.1} µs; native {native:.1} µs"), overhead, "µs overhead", Some(native), "≤ 15 µs", Some(overhead <= 15.0)));
    } else {
        eprintln!("B1: no criterion results; run `cargo bench -p switchboard-bench --bench connector_call` first");
    }

    let wake = wake_round_trip_us();
    rows.push(row("M0", "machine: a thread put to sleep and woken again, over a socket pair (median of 5)".into(), wake, "µs", None, "(reference)", None));

    // The baseline is short and the machine shared: the median of three runs.
    eprintln!("B0: bare hyper, {n} requests, {concurrency} connections, median of 3");
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(bare_hyper(n, concurrency).await);
    }
    runs.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let b0 = runs.swap_remove(1);
    rows.push(row("B0", format!("bare hyper: p50 {:.2} ms, p99 {:.2} ms", b0.p50_ms, b0.p99_ms), b0.rate, "req/s", None, "(reference)", None));

    if only("b2") {
    eprintln!("B2: durable ingest on SQLite");
    let (b2, b2_cpu) = ingest(None, n, concurrency).await?;
    rows.push(row("B2", format!("ingest, SQLite: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; host CPU {:.0} µs/msg", b2.p50_ms, b2.p99_ms, b2.p999_ms, b2_cpu), b2.rate, "msg/s", Some(b0.rate), "≥ 15 % of B0", Some(b2.rate >= 0.15 * b0.rate)));
    rows.push(row("B2", "ingest, SQLite: p99 latency".into(), b2.p99_ms, "ms", None, "≤ 25 ms", Some(b2.p99_ms <= 25.0)));
    }

    if only("b3") {
    eprintln!("B3: durable ingest on PostgreSQL");
    match pg_schema().await {
        Ok(url) => {
            let b3 = ingest(Some(url), n, concurrency).await;
            if let Err(e) = drop_pg_schema().await {
                eprintln!("could not drop the benchmark's schema {}: {e}", pg_schema_name());
            }
            let (b3, b3_cpu) = b3?;
            rows.push(row("B3", format!("ingest, PostgreSQL: p50 {:.2} ms, p99 {:.2} ms; host CPU {:.0} µs/msg", b3.p50_ms, b3.p99_ms, b3_cpu), b3.rate, "msg/s", Some(b0.rate), "≥ 8 % of B0", Some(b3.rate >= 0.08 * b0.rate)));
        }
        Err(e) => eprintln!("B3 skipped: PostgreSQL is not reachable ({e})"),
    }
    }

    if only("b4") {
    eprintln!("B4: delivery");
    let sends = n.min(100_000);
    let (rate, api, b4_cpu, latency) = delivery(sends, concurrency).await?;
    rows.push(row("B4", format!("{sends} sends end to end; API {:.0} req/s, p99 {:.2} ms; host CPU {:.0} µs/send", api.rate, api.p99_ms, b4_cpu), rate, "sends/s", None, "≥ 10,000 sends/s", Some(rate >= 10_000.0)));
    rows.push(row("B4", format!("delivery latency, API request to the provider: p50 {:.2} ms, p99", latency.p50_ms), latency.p99_ms, "ms", None, "(reported)", None));
    }

    if only("b5") {
    eprintln!("B5: memory with 1,000 tenants × 4 channels");
    let (idle, loaded) = memory(n.min(10_000), concurrency).await?;
    rows.push(row("B5", "RSS, idle".into(), idle, "MiB", None, "≤ 512 MiB", Some(idle <= 512.0)));
    rows.push(row("B5", "RSS, under ingest load".into(), loaded, "MiB", None, "≤ 512 MiB", Some(loaded <= 512.0)));
    }

    if only("b6") {
    eprintln!("B6: cold start");
    let start_ms = cold_start().await?;
    rows.push(row("B6", "start to ready, warm cache (median of 5)".into(), start_ms, "ms", None, "≤ 300 ms", Some(start_ms <= 300.0)));
    }

    println!("\n{:<4} {:>12} {:<12} {:>12} {:>8} {:<18} {:<5} what", "id", "figure", "unit", "baseline", "ratio", "target", "met");
    for r in &rows {
        println!(
            "{:<4} {:>12.1} {:<12} {:>12} {:>8} {:<18} {:<5} {}",
            r.id,
            r.value,
            r.unit,
            r.baseline.map(|b| format!("{b:.1}")).unwrap_or_else(|| "-".into()),
            r.ratio.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into()),
            r.target,
            match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            },
            r.what
        );
    }
    let out = workspace().join("target/bench");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&rows)?)?;
    println!("\nwritten to target/bench/results.json");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_request_names_its_send_and_latencies_need_both_ends() {
        let body = br#"{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"message 1234"}}"#;
        assert_eq!(Timeline::send_of(body), Some(1234));
        assert_eq!(Timeline::send_of(br#"{"messaging_product":"whatsapp"}"#), None);
        let timeline = Timeline::new(3);
        for i in 0..3 {
            timeline.mark(&timeline.asked, i);
        }
        std::thread::sleep(Duration::from_millis(2));
        timeline.mark(&timeline.arrived, 0);
        timeline.mark(&timeline.arrived, 7); // out of range: ignored
        let latency = timeline.percentiles();
        assert!(latency.p50_ms >= 2.0 && latency.p50_ms == latency.p99_ms, "only send 0 arrived: {latency:?}");
    }
}
