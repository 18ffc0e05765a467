#!/usr/bin/env bash
# Profiles Switchyard on one comparison workload: the same origins, pinning,
# configuration and load generator as run.sh, with `perf record` attached to
# the proxy while the load runs.
#
#   ./profile.sh [--workload http_ka|https_ka|redirect|h2] [--duration S]
#                [--bin PATH] [--callgraph dwarf|fp|none] [--out DIR]
#
# Writes DIR/perf.data (default /tmp/switchyard-profile), DIR/self.txt (self
# time by symbol), DIR/children.txt (inclusive time, with call graphs) and
# DIR/load.txt (the load generator's output). Release builds carry line
# tables, so `--callgraph dwarf` (the default) resolves inlined frames; a
# build with RUSTFLAGS="-C force-frame-pointers=yes" can use `fp`, which costs
# the proxy less while recording.
set -u -o pipefail
cd "$(dirname "$0")"

WORKLOAD=http_ka
DURATION=8
CALLGRAPH=dwarf
OUT=/tmp/switchyard-profile
SWITCHYARD_BIN=${SWITCHYARD_BIN:-../../target/release/switchyard}
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) WORKLOAD=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --bin) SWITCHYARD_BIN=$2; shift ;;
    --callgraph) CALLGRAPH=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,15p' "$(basename "$0")"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }
source ./single.sh
start_origins
contender_switchyard start
wait_http "http://127.0.0.1:$HTTP_PORT/" 200 15 || die "switchyard did not start: $(tail "$CDIR/log")"
case "$WORKLOAD" in
  http_ka)  LOAD=(wrk -t1 -c"$CONNS" -d"$((DURATION + 2))"s "http://127.0.0.1:$HTTP_PORT/") ;;
  https_ka) LOAD=(wrk -t1 -c"$CONNS" -d"$((DURATION + 2))"s "https://127.0.0.1:$HTTPS_PORT/") ;;
  redirect) LOAD=(wrk -t1 -c"$CONNS" -d"$((DURATION + 2))"s "http://127.0.0.1:$REDIR_PORT/") ;;
  h2)       LOAD=(h2load -c"$CONNS" -m"$H2_STREAMS" -D"$((DURATION + 2))" "https://127.0.0.1:$HTTPS_PORT/") ;;
  *) die "unknown workload $WORKLOAD" ;;
esac
taskset -c "$CLIENT_CPU" "${LOAD[@]}" > "$OUT/load.txt" 2>&1 &
LOAD_PID=$!
sleep 1
case "$CALLGRAPH" in
  dwarf) GRAPH=(--call-graph dwarf,16384) ;;
  fp)    GRAPH=(-g) ;;
  *)     GRAPH=() ;;
esac
perf record -F "${FREQ:-999}" "${GRAPH[@]}" -o "$OUT/perf.data" -p "$PROXY_PID" -- sleep "$DURATION" 2> "$OUT/record.log"
wait "$LOAD_PID"
cleanup
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio -g none --percent-limit 0.4 \
  2>/dev/null > "$OUT/self.txt"
if [ "$CALLGRAPH" != none ]; then
  perf report -i "$OUT/perf.data" --children --sort symbol --stdio -g caller,0.5,callee --percent-limit 2 \
    2>/dev/null > "$OUT/children.txt"
fi
grep -E 'Requests/sec|requests:|finished in' "$OUT/load.txt"
echo "profile: $OUT/self.txt $OUT/children.txt"
