#!/usr/bin/env bash
# Splits a contender's CPU time per request into user space and kernel:
# the same origins, pinning and configuration as run.sh, wrk against one
# workload, the proxy's utime and stime (/proc/PID/stat) read before and
# after a window of the load. Without hardware counters (none in this VM)
# this is what tells user-space work from the kernel's; callgrind counts
# only the first.
#
#   ./cpusplit.sh [--workload http_ka|https_ka|redirect] [--duration S]
#                 [--contender switchyard|hyperbare|haproxy|nginx|...]
#                 [--bin PATH] [--syscalls] [--out DIR]
#
# Prints one line: req/s, user and kernel microseconds per request, per
# core. `--syscalls` also counts the proxy's system calls per request with
# `perf stat` tracepoints (which slow it: read the split from a run
# without it). Run contenders alternately, several times: one run is noisy.
set -u -o pipefail
cd "$(dirname "$0")"

WORKLOAD=http_ka
DURATION=8
CONTENDER=switchyard
SYSCALLS=""
OUT=/tmp/switchyard-cpusplit
SWITCHYARD_BIN=${SWITCHYARD_BIN:-../../target/release/switchyard}
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) WORKLOAD=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --contender) CONTENDER=$2; shift ;;
    --bin) SWITCHYARD_BIN=$2; shift ;;
    --syscalls) SYSCALLS=1 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,16p' "$(basename "$0")"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
source ./single.sh
declare -F "contender_$CONTENDER" > /dev/null || die "unknown contender $CONTENDER"
start_origins
"contender_$CONTENDER" start
wait_http "http://127.0.0.1:$HTTP_PORT/" 200 15 || die "$CONTENDER did not start: $(tail "$CDIR/log")"
case "$WORKLOAD" in
  http_ka)  URL="http://127.0.0.1:$HTTP_PORT/" ;;
  https_ka) URL="https://127.0.0.1:$HTTPS_PORT/" ;;
  redirect) URL="http://127.0.0.1:$REDIR_PORT/" ;;
  *) die "unknown workload $WORKLOAD" ;;
esac
# The load outlasts the window by a second on each side.
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$((DURATION + 3))"s "$URL" > "$OUT/load.txt" 2>&1 &
LOAD_PID=$!
sleep 2
PIDS=$(tree_pids "$PROXY_PID")
# user and system clock ticks of the proxy's processes
ticks() {
  local u=0 s=0 a b p
  for p in $PIDS; do
    read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null || echo "0 0")
    u=$((u + a)); s=$((s + b))
  done
  echo "$u $s"
}
read -r U0 S0 < <(ticks); T0=$(date +%s.%N)
if [ -n "$SYSCALLS" ]; then
  EVENTS=$(printf 'syscalls:sys_enter_%s,' recvfrom read sendto write writev epoll_wait futex)
  perf stat -e "${EVENTS%,}" -p "$(echo $PIDS | tr ' ' ,)" -o "$OUT/syscalls.txt" -- sleep "$DURATION"
else
  sleep "$DURATION"
fi
read -r U1 S1 < <(ticks); T1=$(date +%s.%N)
wait "$LOAD_PID"
cleanup
RPS=$(awk '/Requests\/sec/ {print $2}' "$OUT/load.txt")
[ -n "$RPS" ] || { echo "no result: $(cat "$OUT/load.txt")" >&2; exit 1; }
awk -v c="$CONTENDER" -v w="$WORKLOAD" -v r="$RPS" -v hz="$(getconf CLK_TCK)" \
    -v u="$((U1 - U0))" -v s="$((S1 - S0))" -v t0="$T0" -v t1="$T1" 'BEGIN {
  el = t1 - t0; us = u / hz / el; ks = s / hz / el
  printf "%-11s %-9s req/s %7.0f | per request: user %5.2f us, kernel %5.2f us, total %5.2f us | per core %7.0f\n",
    c, w, r, us / r * 1e6, ks / r * 1e6, (us + ks) / r * 1e6, r / (us + ks)
}'
if [ -n "$SYSCALLS" ]; then
  awk -v r="$RPS" -v d="$DURATION" '/syscalls:/ {gsub(",", "", $1); sub("syscalls:sys_enter_", "", $2); printf "  %s %.2f per request\n", $2, $1 / (r * d)}' "$OUT/syscalls.txt"
fi
