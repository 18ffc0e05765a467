#!/usr/bin/env bash
# The keepalived pair of this folder, rehearsed on one machine: network
# namespaces for a client, two Switchyard nodes and the origins, joined by
# a bridge (in a namespace of its own), with keepalived (VRRP, the virtual
# IP), nginx (two origins) and Redis (the rate limit's shared counters).
# Needs root, iproute2, keepalived, nginx, redis-server, python3.
#
#   ./rehearse.sh                 # up, a crash and a planned stop under load, down
#   ./rehearse.sh up DIR          # build and start everything, state in DIR
#   ./rehearse.sh down DIR        # stop what DIR records (by PID), remove the namespaces
#   ./rehearse.sh holder DIR      # which node holds the virtual IP: a, b or none
#   ./rehearse.sh start NODE DIR  # (re)start Switchyard on node a or b
#   ./rehearse.sh signal NODE SIG DIR   # send SIG to that node's Switchyard
#
# Env: SWITCHYARD (the binary; default: target/release/switchyard, else
# target/debug), RATE_LIMIT_WASM (the rate-limit example; built with cargo
# when unset), PREFIX (of the namespaces' names, default "sy"; one per
# rehearsal running at once), PREEMPT=1 (the preferred node takes the
# address back when it returns, after preempt_delay), HANDOVER (Switchyard's
# handover_delay, default the example's).
#
# Addresses exist only inside the namespaces it creates (10.77.0.0/24: the
# client .10, node a .11, node b .12, origins .21 and .22, Redis .30, the
# virtual IP .100). Everything it starts is recorded in DIR and stopped by
# PID; the demo cleans up on any exit, failures included.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PREFIX="${PREFIX:-sy}"
NET=10.77.0
VIP="$NET.100"

ns() { echo "$PREFIX-$1"; }

switchyard_binary() {
  if [[ -n "${SWITCHYARD:-}" ]]; then echo "$SWITCHYARD"; return; fi
  for b in "$ROOT/target/release/switchyard" "$ROOT/target/debug/switchyard"; do
    [[ -x "$b" ]] && { echo "$b"; return; }
  done
  echo "no switchyard binary: cargo build --release, or set SWITCHYARD" >&2
  exit 1
}

rate_limit_wasm() {
  if [[ -n "${RATE_LIMIT_WASM:-}" ]]; then echo "$RATE_LIMIT_WASM"; return; fi
  (cd "$ROOT/examples/plugins" && cargo build --quiet --release --target wasm32-wasip2 -p rate-limit) >&2
  echo "$ROOT/examples/plugins/target/wasm32-wasip2/release/rate_limit.wasm"
}

# Remembers a started process: DIR/pids holds "NAME PID" lines.
record() { echo "$1 $2" >>"$DIR/pids"; }

pid_of() { awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$DIR/pids" 2>/dev/null; }

attach() { # NODE ADDRESS...: a veth from the bridge into the node's namespace
  local node=$1
  shift
  ip -n "$(ns lan)" link add name "v$node" type veth peer name eth0 netns "$(ns "$node")"
  ip -n "$(ns lan)" link set "v$node" master br0 up
  ip -n "$(ns "$node")" link set eth0 up
  for host in "$@"; do
    ip -n "$(ns "$node")" addr add "$NET.$host/24" dev eth0
  done
}

render() { # the example's files, for the rehearsal's addresses and paths
  local node=$1
  mkdir -p "$DIR/$node"
  sed -e "s/192\.0\.2\./$NET./g" \
      -e "s|/usr/local/lib/switchyard/rate_limit.wasm|$WASM|" \
      -e "s|^handover_delay = .*|handover_delay = \"${HANDOVER:-3s}\"|" \
      -e "s|^\[global\]|[global]\nplugin_cache = \"$DIR/cache\"\nworkers = 2|" \
      "$HERE/switchyard.toml" >"$DIR/$node/switchyard.toml"
  sed -e "s/192\.0\.2\./$NET./g" \
      -e "/enable_script_security/d" \
      -e "s|/etc/keepalived/switchyard-check.sh|$DIR/$node/check.sh|" \
      -e "s|/etc/keepalived/switchyard-notify.sh|$DIR/$node/notify.sh|" \
      "$HERE/keepalived-$node.conf" >"$DIR/$node/keepalived.conf"
  if [[ "${PREEMPT:-0}" == 1 ]]; then
    sed -i -e "s/^    nopreempt$/    preempt_delay 2/" "$DIR/$node/keepalived.conf"
  fi
  printf '#!/bin/sh\nSWITCHYARD=%q exec %q\n' "$BIN" "$HERE/switchyard-check.sh" >"$DIR/$node/check.sh"
  printf '#!/bin/sh\nSWITCHYARD_VRRP_LOG=%q exec %q "$@"\n' "$DIR/$node/vrrp.log" "$HERE/switchyard-notify.sh" >"$DIR/$node/notify.sh"
  chmod 755 "$DIR/$node/check.sh" "$DIR/$node/notify.sh"
}

start_switchyard() {
  local node=$1
  ip netns exec "$(ns "$node")" "$BIN" run -c "$DIR/$node/switchyard.toml" >>"$DIR/$node/switchyard.log" 2>&1 &
  record "switchyard-$node" $!
}

start_origins() {
  mkdir -p "$DIR/nginx"
  cat >"$DIR/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/nginx;
  proxy_temp_path $DIR/nginx;
  fastcgi_temp_path $DIR/nginx;
  uwsgi_temp_path $DIR/nginx;
  scgi_temp_path $DIR/nginx;
  keepalive_requests 100000;
  server { listen $NET.21:80; location = /health { return 200 "ok\n"; } location / { return 200 "web1\n"; } }
  server { listen $NET.22:80; location = /health { return 200 "ok\n"; } location / { return 200 "web2\n"; } }
}
EOF
  ip netns exec "$(ns origin)" nginx -c "$DIR/nginx/nginx.conf" -p "$DIR/nginx" >"$DIR/nginx/stdout.log" 2>&1 &
  record nginx $!
  ip netns exec "$(ns origin)" redis-server --bind "$NET.30" --port 6379 --save "" --appendonly no \
    --protected-mode no --dir "$DIR" >"$DIR/redis.log" 2>&1 &
  record redis $!
}

start_keepalived() {
  local node=$1
  ip netns exec "$(ns "$node")" keepalived --dont-fork --log-console --log-detail --vrrp \
    --use-file "$DIR/$node/keepalived.conf" --config-id "$PREFIX-$node" \
    --pid "$DIR/$node/keepalived.pid" --vrrp_pid "$DIR/$node/vrrp.pid" \
    >"$DIR/$node/keepalived.log" 2>&1 &
  record "keepalived-$node" $!
}

holder() {
  local addresses
  for node in a b; do
    # Captured first: `ip | grep -q` under pipefail fails when grep exits
    # before ip has written everything (SIGPIPE), and would say "none".
    addresses="$(ip -n "$(ns "$node")" -o addr show dev eth0 2>/dev/null || true)"
    if [[ "$addresses" == *" $VIP/"* ]]; then
      echo "$node"
      return
    fi
  done
  echo none
}

wait_for() { # SECONDS WHAT COMMAND...
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      echo "rehearse: $what not within ${limit}s; logs in $DIR" >&2
      return 1
    fi
    sleep 0.1
  done
}

ready() { ip netns exec "$(ns "$1")" "$BIN" status --ready --admin 127.0.0.1:9901; }
has_holder() { [[ "$(holder)" != none ]]; }
vip_answers() { ip netns exec "$(ns client)" curl -fsS -m 1 -o /dev/null "http://$VIP/"; }

up() {
  mkdir -p "$DIR"
  BIN="$(switchyard_binary)"
  WASM="$(rate_limit_wasm)"
  echo "$PREFIX" >"$DIR/prefix"
  echo "$BIN" >"$DIR/binary"
  : >"$DIR/pids"
  for node in lan client a b origin; do
    ip netns add "$(ns "$node")"
    echo "$(ns "$node")" >>"$DIR/namespaces"
    ip -n "$(ns "$node")" link set lo up
  done
  ip -n "$(ns lan)" link add br0 type bridge
  ip -n "$(ns lan)" link set br0 up
  attach client 10
  attach a 11
  attach b 12
  attach origin 21 22 30
  for node in a b; do
    ip netns exec "$(ns "$node")" "$HERE/node-setup.sh" "$VIP"
  done
  start_origins
  for node in a b; do
    render "$node"
    start_switchyard "$node"
  done
  for node in a b; do
    wait_for 120 "Switchyard ready on node $node" ready "$node"
  done
  for node in a b; do
    start_keepalived "$node"
  done
  wait_for 30 "a node holding $VIP" has_holder
  wait_for 10 "an answer on $VIP from the client" vip_answers
  echo "up: $VIP on node $(holder); state in $DIR"
}

stop_pid() { # PID: TERM, then KILL after 10 s
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

down() {
  [[ -f "$DIR/prefix" ]] && PREFIX="$(cat "$DIR/prefix")"
  if [[ -f "$DIR/pids" ]]; then
    # keepalived first, so no node takes the address while others stop.
    for name in keepalived-a keepalived-b switchyard-a switchyard-b nginx redis; do
      awk -v n="$name" '$1 == n { print $2 }' "$DIR/pids" | while read -r pid; do stop_pid "$pid"; done
    done
  fi
  if [[ -f "$DIR/namespaces" ]]; then
    while read -r namespace; do
      ip netns del "$namespace" 2>/dev/null || true
    done <"$DIR/namespaces"
  fi
}

demo() {
  DIR="$(mktemp -d)"
  trap 'down; rm -rf "$DIR"' EXIT
  up
  local load="ip netns exec $(ns client) python3 $HERE/load.py http://$VIP/ --workers 4 --stop-file $DIR/stop"
  for round in crash planned; do
    rm -f "$DIR/stop" "$DIR/$round.txt"
    $load --out "$DIR/$round.txt" &
    local load_pid=$!
    sleep 2
    local active
    active="$(holder)"
    local at
    at="$(date +%s.%N)"
    if [[ $round == crash ]]; then
      echo "SIGKILL to Switchyard on node $active (holding $VIP)"
      kill -KILL "$(pid_of "switchyard-$active")"
    else
      echo "SIGTERM to Switchyard on node $active (holding $VIP): a planned stop"
      kill -TERM "$(pid_of "switchyard-$active")"
    fi
    wait_for 15 "the address on the other node" bash -c "[[ \$($0 holder $DIR) != $active && \$($0 holder $DIR) != none ]]"
    sleep 5
    touch "$DIR/stop"
    wait "$load_pid"
    python3 - "$DIR/$round.txt" "$at" <<'EOF'
import sys
at = float(sys.argv[2])
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
failed = [r for r in rows if not r[2].startswith("2")]
after = [float(r[0]) for r in rows if r[2].startswith("2") and float(r[0]) >= at and (not failed or float(r[0]) > max(float(f[0]) for f in failed))]
print(f"  {len(rows)} requests, {len(failed)} failed", end="")
if failed:
    print(f" (from {float(failed[0][0]) - at:+.2f}s to {float(failed[-1][1]) - at:+.2f}s around the signal)", end="")
print()
EOF
    echo "  $VIP is now on node $(holder); node $active's transitions:"
    sed 's/^/    /' "$DIR/$active/vrrp.log"
    start_switchyard "$active"
    wait_for 60 "Switchyard back on node $active" ready "$active"
    sleep 3
    echo "  node $active is back; $VIP stays on node $(holder) (nopreempt: no second failover)"
  done
}

command="${1:-demo}"
case "$command" in
  demo) demo ;;
  up) DIR="$2"; up ;;
  down) DIR="$2"; down ;;
  holder) DIR="$2"; PREFIX="$(cat "$DIR/prefix")"; holder ;;
  start) DIR="$3"; PREFIX="$(cat "$DIR/prefix")"; BIN="$(cat "$DIR/binary")"; start_switchyard "$2" ;;
  signal) DIR="$4"; kill "-$3" "$(pid_of "switchyard-$2")" ;;
  *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
