#!/usr/bin/env bash
# Build the connectors to wasm32-wasip2 and put them where the host and the tests look:
#   target/connectors/       the shipped connectors (the host's default runtime.connector_dir)
#   target/test-connectors/  components only the tests use (with --tests)
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

out=target/wasm32-wasip2/release
shipped=(signed-webhook-connector:signed-webhook whatsapp-connector:whatsapp instagram-connector:instagram sms-connector:sms voice-connector:voice)

build() { cargo build --quiet --release --target wasm32-wasip2 "$@"; }

mkdir -p target/connectors
args=()
for entry in "${shipped[@]}"; do args+=(-p "${entry%%:*}"); done
build "${args[@]}"
for entry in "${shipped[@]}"; do
    crate=${entry%%:*}; name=${entry##*:}
    cp "$out/${crate//-/_}.wasm" "target/connectors/$name.wasm.tmp"
    mv "target/connectors/$name.wasm.tmp" "target/connectors/$name.wasm"
done

if [ "${1:-}" = "--tests" ]; then
    mkdir -p target/test-connectors
    build -p testbed-connector -p other-world-component -p contract-0-1-connector
    cp "$out/testbed_connector.wasm" target/test-connectors/testbed.wasm
    cp "$out/other_world_component.wasm" target/test-connectors/other-world.wasm
    cp "$out/contract_0_1_connector.wasm" target/test-connectors/contract-0-1.wasm
    build -p testbed-connector --features v2
    cp "$out/testbed_connector.wasm" target/test-connectors/testbed-v2.wasm
fi
echo "connectors built: $(ls target/connectors | tr '\n' ' ')"
