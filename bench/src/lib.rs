//! Shared pieces of the benchmarks: payloads, the load driver, and the report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard::runtime::ChannelContext;
use switchboard::runtime::egress::{AllowedHost, EgressPolicy};

/// The WhatsApp app secret the benchmarks sign with.
pub const WA_SECRET: &str = "bench-app-secret";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A WhatsApp text webhook whose message id is unique per `n`.
pub fn signed_text_webhook(n: u64) -> Vec<u8> {
    serde_json::json!({ "object": "whatsapp_business_account", "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
        "contacts": [{ "profile": { "name": "Sheena Nelson" }, "wa_id": format!("1650555{:04}", n % 10_000) }],
        "messages": [{ "from": format!("1650555{:04}", n % 10_000), "id": format!("wamid.BENCH{n:012}"), "timestamp": "1749416383", "type": "text", "text": { "body": "Does it come in another color?" } }]
    } }] }] })
    .to_string()
    .into_bytes()
}

/// `sha256=<hex>` for a body.
pub fn meta_signature(body: &[u8]) -> String {
    format!("sha256={}", hex::encode(switchboard_sdk::signature::hmac_sha256(WA_SECRET.as_bytes(), body)))
}

/// The settings of a WhatsApp channel pointed at `graph_url`.
pub fn whatsapp_settings(graph_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("app-secret", WA_SECRET.to_string()),
        ("verify-token", "verify".to_string()),
        ("access-token", "bench-token".to_string()),
        ("phone-number-id", "106540352242922".to_string()),
        ("graph-api-base-url", graph_url.to_string()),
        ("graph-api-version", "v21.0".to_string()),
    ]
}

/// A sandbox context for a WhatsApp channel (B1 calls the runtime directly).
pub fn whatsapp_context(graph_url: &str) -> Arc<ChannelContext> {
    let settings: HashMap<String, String> = whatsapp_settings(graph_url).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    Arc::new(ChannelContext {
        tenant: "bench".into(),
        channel_id: "wa".into(),
        settings,
        webhook_url: "http://127.0.0.1/hooks/wa".into(),
        egress: EgressPolicy { allowed: AllowedHost::parse(graph_url).into_iter().collect(), allow_private: true },
        state: Arc::new(switchboard::runtime::MemoryStateStore::default()),
        router: Arc::new(switchboard::runtime::NoAgents),
    })
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Requests per second.
    pub rate: f64,
    /// Latency percentiles, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Requests that did not get a 2xx.
    pub errors: usize,
}

/// Send `n` POSTs (`make(i)` gives the path, headers and body) over `concurrency` keep-alive
/// HTTP/1.1 connections; time each one.
pub async fn drive<F>(base: &str, n: u64, concurrency: usize, make: F) -> LoadResult
where
    F: Fn(u64) -> (String, Vec<(String, String)>, Vec<u8>) + Send + Sync + 'static,
{
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).http1_only().build().unwrap();
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, make, next, base) = (client.clone(), make.clone(), next.clone(), base.to_string());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let (path, headers, body) = make(i);
                let mut request = client.post(format!("{base}{path}")).body(body);
                for (k, v) in headers {
                    request = request.header(k, v);
                }
                let t = Instant::now();
                match request.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                    }
                    _ => errors += 1,
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut all: Vec<Duration> = Vec::with_capacity(n as usize);
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0);
    LoadResult { rate: n as f64 / elapsed, p50_ms: pct(0.50), p99_ms: pct(0.99), p999_ms: pct(0.999), errors }
}

/// What waking a thread costs on this machine, in microseconds per round trip: two threads
/// bounce one byte over a pair of Unix sockets, so each trip puts one thread to sleep and wakes
/// it again, usually on the other core; the median of five runs. The host hands work between
/// threads for every request, and on virtual machines this cost varies several-fold from one
/// machine to the next, so it is reported beside the figures that have no baseline of their own.
pub fn wake_round_trip_us() -> f64 {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    const TRIPS: u32 = 5_000;
    let mut runs = Vec::new();
    for _ in 0..5 {
        let Ok((mut here, mut there)) = UnixStream::pair() else { return f64::NAN };
        let echo = std::thread::spawn(move || {
            let mut byte = [0u8];
            for _ in 0..TRIPS {
                if there.read_exact(&mut byte).is_err() || there.write_all(&byte).is_err() {
                    return;
                }
            }
        });
        let mut byte = [7u8];
        let started = Instant::now();
        for _ in 0..TRIPS {
            if here.write_all(&byte).is_err() || here.read_exact(&mut byte).is_err() {
                return f64::NAN;
            }
        }
        runs.push(started.elapsed().as_secs_f64() * 1e6 / f64::from(TRIPS));
        let _ = echo.join();
    }
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// One line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// B0, B1, ...
    pub id: &'static str,
    /// What was measured.
    pub what: String,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
    /// The baseline measured in the same run, if any.
    pub baseline: Option<f64>,
    /// value / baseline.
    pub ratio: Option<f64>,
    /// The target, as text.
    pub target: &'static str,
    /// Whether the target is met (none for reference figures).
    pub met: Option<bool>,
}
