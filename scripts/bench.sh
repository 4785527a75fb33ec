#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md: prints a table and writes target/bench/results.json.
# Options are passed to the runner: --requests N (default 20000), --concurrency C (default 64).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-connectors.sh
./scripts/ensure-postgres.sh || echo "PostgreSQL is not available: B3 will be skipped" >&2
cargo build --release -p switchboard -p switchboard-bench
cargo bench -p switchboard-bench --bench connector_call -- --noplot
./target/release/switchboard-bench "$@"
