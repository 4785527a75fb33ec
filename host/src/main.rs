//! The `switchboard` binary.

use clap::Parser;

/// Webhooks, connector calls and SQL rows allocate many small, short-lived buffers from several
/// threads at once; against the system allocator, mimalloc gave about 7 % more ingest and 9 %
/// more delivery throughput in the benchmarks (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = switchboard::cli::Cli::parse();
    std::process::exit(switchboard::cli::run(cli).await);
}
