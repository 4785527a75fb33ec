#!/usr/bin/env bash
# The whole test suite, from a fresh machine: the wasm target, the connectors (and the tests' own
# components), then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-connectors.sh --tests
cargo test --workspace "$@"
