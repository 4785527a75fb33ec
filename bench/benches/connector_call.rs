//! B1: one `handle-webhook` call on a fresh instance, for a signed WhatsApp text webhook, beside a
//! native Rust function that does the same verification and parse.

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use switchboard::runtime::bindings::v0_1::switchboard::connector::types as wit;
use switchboard_bench::{WA_SECRET, signed_text_webhook, whatsapp_context, workspace};

/// The allocator of the `switchboard` binary, so that the call is measured as the host makes it
/// (the native baseline allocates through it too).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = switchboard::config::RuntimeConfig { cache_dir: workspace().join("target/bench/cache"), ..Default::default() };
    let runtime = Arc::new(switchboard::runtime::Runtime::new(&config).unwrap());
    let connector = rt.block_on(runtime.load_file(&workspace().join("target/connectors/whatsapp.wasm"))).expect("run scripts/build-connectors.sh first");
    let context = whatsapp_context("http://127.0.0.1:9");
    let body = signed_text_webhook(0);
    let signature = switchboard_bench::meta_signature(&body);
    let request = wit::HttpRequest {
        method: "POST".into(),
        url: "http://127.0.0.1/hooks/wa".into(),
        path: "/hooks/wa".into(),
        query: String::new(),
        headers: vec![wit::Header { name: "x-hub-signature-256".into(), value: signature.clone() }],
        body: body.clone(),
    };
    let mut group = c.benchmark_group("connector_call");
    group.bench_function("wasm", |b| {
        b.iter(|| {
            let outcome = rt.block_on(runtime.handle_webhook(&connector, context.clone(), request.clone())).unwrap().unwrap();
            assert_eq!(outcome.events.len(), 1);
        })
    });
    group.bench_function("native", |b| {
        b.iter(|| {
            switchboard_sdk::signature::verify_hmac_sha256_hex(WA_SECRET.as_bytes(), &body, Some(&signature), "sha256=").unwrap();
            let events = whatsapp_connector::inbound::parse(&body).unwrap();
            assert_eq!(events.len(), 1);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
