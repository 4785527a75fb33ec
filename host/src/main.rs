//! The `switchboard` binary.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = switchboard::cli::Cli::parse();
    std::process::exit(switchboard::cli::run(cli).await);
}
