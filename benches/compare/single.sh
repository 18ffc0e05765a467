# Sourced by profile.sh and callgrind.sh: run.sh's settings, pinning and
# helpers (render, launch, start_backends, make_cert, wait_http, cleanup,
# ...) for one Switchyard process at a time, without run.sh's main.
# Expects OUT (a scratch directory) and SWITCHYARD_BIN to be set.

SWITCHYARD_BIN=$(realpath "$SWITCHYARD_BIN")
PROXY_CPU=0 CLIENT_CPU=1 CONNS=50 H2_STREAMS=10
HTTP_PORT=28080 HTTPS_PORT=28443 REDIR_PORT=28081 BE1_PORT=29001 BE2_PORT=29002
RUN_DIR=$OUT/run
CERT="$RUN_DIR/tls/cert.pem"; KEY="$RUN_DIR/tls/key.pem"; PEM="$RUN_DIR/tls/combined.pem"
WWW="$RUN_DIR/www"
BACKEND_PIDS=() PROXY_PID="" CDIR=""

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; cleanup; exit 1; }
# Everything between run.sh's helpers marker and its closing `main`.
eval "$(sed -n '/^# ---------------------------------------------------------------- helpers/,/^main$/p' run.sh | sed '$d')"
source ./contenders.sh

# A fresh OUT with a certificate and both origins up; CDIR for the proxy.
start_origins() {
  rm -rf "$OUT"; mkdir -p "$RUN_DIR"
  make_cert
  start_backends
  CDIR="$RUN_DIR/proxy"; mkdir -p "$CDIR"
}
