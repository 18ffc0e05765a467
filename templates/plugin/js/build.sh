#!/usr/bin/env bash
# Builds {{name_snake}}.wasm, a Switchyard plugin component, from app.js
# with componentize-js.
#
# Needs Node.js >= 18 and npm (Debian: apt-get install nodejs npm). The
# first run installs the pinned toolchain (package-lock.json) into
# node_modules/.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules/@bytecodealliance/componentize-js ]; then
  npm ci --no-audit --no-fund
fi

# Disable the engine features the host does not provide to plugins or the
# plugin does not need: clocks (timers), outgoing fetch and the fetch
# event. stdio stays on: an uncaught exception's message and stack, and
# console.*, reach the proxy's log through it. The component is written
# next to the target and renamed into place, so a proxy watching the file
# never reads half of it.
npx --no-install componentize-js app.js \
  --wit wit \
  --world-name request-plugin \
  --disable clocks http fetch-event \
  --out {{name_snake}}.wasm.new
mv -f {{name_snake}}.wasm.new {{name_snake}}.wasm
echo "built {{name_snake}}.wasm ($(wc -c <{{name_snake}}.wasm) bytes)"
