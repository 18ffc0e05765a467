#!/usr/bin/env bash
# Builds maintenance.wasm (or $OUT) from app.js with componentize-js.
#
#   ./build.sh                 # or: npm run build
#   OUT=/tmp/m.wasm ./build.sh  # another output file (relative: to the caller's directory)
#
# Needs Node.js >= 18 and npm (Debian: apt-get install nodejs npm). The
# first run installs the pinned toolchain (package-lock.json) into
# node_modules/.
set -euo pipefail

# A relative OUT is taken from the directory the script is called from.
if [ -n "${OUT:-}" ] && [ "${OUT#/}" = "$OUT" ]; then
  OUT="$PWD/$OUT"
fi
cd "$(dirname "$0")"
OUT="${OUT:-maintenance.wasm}"

if [ ! -d node_modules/@bytecodealliance/componentize-js ]; then
  npm ci --no-audit --no-fund
fi

# Disable the engine features the host does not link for plugins or the
# plugin does not need: clocks (timers, which also need to wait on
# wasi:io/poll), outgoing fetch and the fetch event. stdio stays on: an
# uncaught exception's message reaches the proxy's log through it. `random` stays on:
# Math.random draws from wasi:random, which the host provides.
npx --no-install componentize-js app.js \
  --wit ../../../wit \
  --world-name request-plugin \
  --disable clocks http fetch-event \
  --out "$OUT"

echo "built $OUT ($(wc -c < "$OUT") bytes)"
