#!/usr/bin/env bash
# The whole test suite, from a fresh machine: the wasm target, the connectors (and the tests' own
# components), PostgreSQL if it is not running, then every test of the workspace on SQLite and
# PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-connectors.sh --tests
./scripts/ensure-postgres.sh
cargo test --workspace "$@"
