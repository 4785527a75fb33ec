#!/usr/bin/env bash
# The whole test suite, from a fresh machine: the wasm target, the connectors (and the tests' own
# components), PostgreSQL if it is not running, then every test of the workspace on SQLite and
# PostgreSQL, and the benchmarks' criterion bench once.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-connectors.sh --tests
./scripts/ensure-postgres.sh
cargo test --workspace "$@"
# B1's criterion bench, run once in test mode, so that a change cannot break the benchmarks
# unseen (skipped when the run is narrowed by arguments).
if [ "$#" -eq 0 ]; then
    cargo test -p switchboard-bench --benches
fi
