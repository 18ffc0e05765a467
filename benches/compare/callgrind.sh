#!/usr/bin/env bash
# Counts the user-space instructions Switchyard executes per request, under
# callgrind: the same origins and configuration as run.sh, a fixed number of
# keep-alive requests (ab -k), instrumentation on only while they run.
# Instruction counts are exact and repeatable, so they compare two builds on
# a noisy shared machine where req/s cannot; they leave out the kernel and
# cache effects, so confirm a gain with run.sh.
#
#   ./callgrind.sh [--workload http_ka|https_ka|redirect|h2] [--requests N]
#                  [--bin PATH] [--contender switchyard|hyperbare|pingora]
#                  [--client ab|wrk] [--out DIR]
#
# --client wrk: wrk for --seconds S (default 10) instead of N ab requests,
# divided by the requests wrk completed (10 connections, so at most 10
# partly counted): wrk's request, which the comparison's keep-alive,
# HTTPS and redirect workloads send, carries only Host where ab's has four
# fields.
#
# --workload h2: h2load's N requests over TLS, 10 connections of 10
# streams each (the comparison runs 50 connections; fewer keep the count
# short under valgrind), in place of ab or wrk.
#
# Prints instructions per request; DIR/callgrind.out (default
# /tmp/switchyard-callgrind) opens with callgrind_annotate or kcachegrind.
# `--contender hyperbare` counts the same stack with nothing of ours on it
# (build it with build-peers.sh), the yardstick for our own layers.
set -u -o pipefail
cd "$(dirname "$0")"

WORKLOAD=http_ka
REQUESTS=5000
CONTENDER=switchyard
CLIENT=ab
SECONDS_WRK=10
OUT=/tmp/switchyard-callgrind
SWITCHYARD_BIN=${SWITCHYARD_BIN:-../../target/release/switchyard}
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) WORKLOAD=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --bin) SWITCHYARD_BIN=$2; shift ;;
    --contender) CONTENDER=$2; shift ;;
    --client) CLIENT=$2; shift ;;
    --seconds) SECONDS_WRK=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,29p' "$(basename "$0")"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
source ./single.sh

case "$WORKLOAD" in
  http_ka)  URL="http://127.0.0.1:$HTTP_PORT/" ;;
  https_ka) URL="https://127.0.0.1:$HTTPS_PORT/" ;;
  redirect) URL="http://127.0.0.1:$REDIR_PORT/" ;;
  h2)       URL="https://127.0.0.1:$HTTPS_PORT/"; CLIENT=h2load ;;
  *) die "unknown workload $WORKLOAD" ;;
esac
declare -F "contender_$CONTENDER" > /dev/null || die "unknown contender $CONTENDER"
start_origins
# The contender's own start, under callgrind (children traced: `env` execs it).
launch() {
  taskset -c "$PROXY_CPU" valgrind --tool=callgrind --smc-check=all-non-file --trace-children=yes \
    --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out.%p" "$@" > "$CDIR/log" 2>&1 &
  PROXY_PID=$!
}
"contender_$CONTENDER" start
wait_http "http://127.0.0.1:$HTTP_PORT/" 200 120 || die "$CONTENDER did not start under valgrind: $(tail "$CDIR/log")"
taskset -c "$CLIENT_CPU" ab -q -k -n 2000 -c 10 "$URL" > /dev/null 2>&1   # warm-up, not counted
callgrind_control -i on "$PROXY_PID" > /dev/null
case "$CLIENT" in
  ab) taskset -c "$CLIENT_CPU" ab -q -k -n "$REQUESTS" -c 10 "$URL" > "$OUT/ab.txt" 2>&1 ;;
  wrk) taskset -c "$CLIENT_CPU" wrk -t1 -c10 -d"${SECONDS_WRK}s" "$URL" > "$OUT/wrk.txt" 2>&1 ;;
  h2load) taskset -c "$CLIENT_CPU" h2load -t1 -c10 -m10 -n "$REQUESTS" "$URL" > "$OUT/h2load.txt" 2>&1 ;;
  *) die "unknown client $CLIENT" ;;
esac
callgrind_control -i off "$PROXY_PID" > /dev/null
callgrind_control -d "$PROXY_PID" > /dev/null
sleep 1
cleanup
if [ "$CLIENT" = wrk ]; then
  REQUESTS=$(awk '/requests in/{print $1}' "$OUT/wrk.txt")
  [ "${REQUESTS:-0}" -gt 0 ] || die "wrk completed no request: $(cat "$OUT/wrk.txt")"
  if grep -qE "Non-2xx|Socket errors" "$OUT/wrk.txt"; then
    die "wrk reported errors: $(cat "$OUT/wrk.txt")"
  fi
elif [ "$CLIENT" = h2load ]; then
  grep -q "requests: $REQUESTS total, $REQUESTS started, $REQUESTS done, $REQUESTS succeeded, 0 failed" "$OUT/h2load.txt" \
    || die "h2load did not complete every request: $(cat "$OUT/h2load.txt")"
else
  failed=$(awk '/^Failed requests/{print $3}' "$OUT/ab.txt")
  [ "${failed:-1}" = 0 ] || die "ab reported failed requests: $(cat "$OUT/ab.txt")"
fi
DUMP=$(ls -S "$OUT"/callgrind.out* | head -1)
total=$(callgrind_annotate "$DUMP" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1; exit}')
echo "$WORKLOAD: $((total / REQUESTS)) user-space instructions per request ($REQUESTS requests, $CLIENT); profile: $DUMP"
