#!/usr/bin/env bash
# End-to-end test of the plugin: builds it, starts a stand-in origin
# (python3 -m http.server) and Switchyard with switchyard.toml on free
# ports, and checks what the plugin does with curl.
#
#   ./test.sh                                   # switchyard on PATH
#   SWITCHYARD=/path/to/switchyard ./test.sh
#
# Needs python3 and curl. Python and JavaScript components take a while to
# compile the first time (Switchyard caches the result): the proxy gets up
# to WAIT seconds (default 120) to start.
set -euo pipefail
SWITCHYARD="${SWITCHYARD:-switchyard}"
if [[ "$SWITCHYARD" == */* && "$SWITCHYARD" != /* ]]; then
  SWITCHYARD="$PWD/$SWITCHYARD"   # relative to where the test is run from
fi
WAIT="${WAIT:-120}"
cd "$(dirname "$0")"
here="$PWD"

if ! command -v "$SWITCHYARD" >/dev/null; then
  echo "error: $SWITCHYARD not found; run with SWITCHYARD=/path/to/switchyard" >&2
  exit 1
fi

./build.sh

# The golden tests first: the plugin alone, no proxy (plugin-test.toml).
"$SWITCHYARD" plugin test {{name_snake}}.wasm plugin-test.toml

tmp="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Two free ports: bind to port 0 and let the kernel choose.
read -r proxy_port origin_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
proxy="http://127.0.0.1:$proxy_port"
curl=(curl -s --max-time 10)

# The test configuration: switchyard.toml with these ports instead of
# 127.0.0.1:8080 (the proxy) and 127.0.0.1:8081 (the origin), and the
# component by absolute path (relative paths are taken from the directory
# of the configuration file, here a temporary one).
sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$proxy_port/" \
    -e "s/127\.0\.0\.1:8081/127.0.0.1:$origin_port/" \
    -e "s|^source = \"\([^/].*\)\"|source = \"$here/\1\"|" \
    switchyard.toml >"$tmp/switchyard.toml"

# The greeting to expect: the configured one, else the plugin's default.
greeting="$(sed -n 's/.*greeting = "\([^"]*\)".*/\1/p' switchyard.toml)"
greeting="${greeting:-hello from {{name}}}"

mkdir "$tmp/www"
echo "hello from the origin" >"$tmp/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$origin_port" >"$tmp/origin.log" 2>&1 &
pids+=($!)
"$SWITCHYARD" run -c "$tmp/switchyard.toml" >"$tmp/switchyard.log" 2>&1 &
switchyard_pid=$!
pids+=($switchyard_pid)

echo "waiting for the proxy on $proxy (the first start compiles the plugin)..."
deadline=$((SECONDS + WAIT))
until "${curl[@]}" -o /dev/null "$proxy/" && "${curl[@]}" -o /dev/null "http://127.0.0.1:$origin_port/"; do
  if ! kill -0 "$switchyard_pid" 2>/dev/null; then
    echo "FAIL: switchyard exited; its log:"
    cat "$tmp/switchyard.log"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "FAIL: no answer after $WAIT s; the end of switchyard's log:"
    tail -n 20 "$tmp/switchyard.log"
    exit 1
  fi
  sleep 0.5
done

failed=0
fail() {
  echo "FAIL: $*"
  failed=$((failed + 1))
}

# 1. /hello is answered by the plugin: 200 and the greeting.
status="$("${curl[@]}" -o "$tmp/body" -w '%{http_code}' "$proxy/hello" || true)"
if [[ "$status" != 200 ]]; then
  fail "GET /hello: status $status, expected 200"
elif ! cmp -s "$tmp/body" <(printf '%s\n' "$greeting"); then
  fail "GET /hello: body '$(cat "$tmp/body")', expected '$greeting'"
fi

# 2. Anything else reaches the origin, and the response is tagged.
status="$("${curl[@]}" -D "$tmp/headers" -o /dev/null -w '%{http_code}' "$proxy/" || true)"
if [[ "$status" != 200 ]]; then
  fail "GET /: status $status, expected 200"
elif ! grep -qix 'x-plugin: {{name}}' < <(tr -d '\r' <"$tmp/headers"); then
  fail "GET /: no 'x-plugin: {{name}}' header in:"
  cat "$tmp/headers"
fi

if ((failed)); then
  echo "$failed of 2 checks failed; the end of switchyard's log:"
  tail -n 20 "$tmp/switchyard.log"
  exit 1
fi
echo "ok: 2 checks passed"
