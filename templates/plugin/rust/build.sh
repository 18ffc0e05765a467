#!/usr/bin/env bash
# Builds {{name_snake}}.wasm, a Switchyard plugin component, from src/lib.rs.
#
# Needs Rust (https://rustup.rs) with the WebAssembly target:
#   rustup target add wasm32-wasip2
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release --target wasm32-wasip2

# Copy, then rename over the old file: a proxy watching it never reads a
# half-written component.
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{name_snake}}.wasm" {{name_snake}}.wasm.new
mv -f {{name_snake}}.wasm.new {{name_snake}}.wasm
echo "built {{name_snake}}.wasm ($(wc -c <{{name_snake}}.wasm) bytes)"
