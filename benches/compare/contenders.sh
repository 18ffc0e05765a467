# contenders.sh — one function per contender, sourced by run.sh.
# (Vendored from the team's anchor harness, ../shared/bench, with
# contender_switchyard added and the Rust peers' binaries found in the
# project's target directory; everything else is unchanged so figures stay
# comparable with RESULTS.md there.)
#
# ADDING A CONTENDER (e.g. our own proxy) = adding ONE function here:
#
#   contender_<name>() {
#     case "$1" in
#       version) <print one line: product and version> ;;
#       start)   render configs/<its template> > "$CDIR/<file>"   # optional
#                launch <command that runs it in the FOREGROUND> ;;
#     esac
#   }
#
# then run:  ./run.sh --contenders "haproxy nginx caddy <name>"
#
# What `start` must produce (run.sh checks it before measuring):
#   * 127.0.0.1:$HTTP_PORT   plain HTTP, reverse proxy to the two origins
#   * 127.0.0.1:$HTTPS_PORT  TLS (cert $CERT, key $KEY, or $PEM = cert+key in one
#                            file), same proxying; ALPN h2 if it supports HTTP/2
#   * 127.0.0.1:$REDIR_PORT  answers 301 Location: https://<host>:$HTTPS_PORT<uri>
#   * round-robin over 127.0.0.1:$BE1_PORT and 127.0.0.1:$BE2_PORT, keep-alive
#     pooled upstream connections, active health check GET /health expecting 200
#     (if supported), request header X-Forwarded-Proto (http / https)
#   * ONE worker thread/process (per-core efficiency), no access logging
# Helpers available: `render TEMPLATE` (substitutes @HTTP_PORT@ @HTTPS_PORT@
# @REDIR_PORT@ @BE1_PORT@ @BE2_PORT@ @CERT@ @KEY@ @PEM@ @DIR@ on stdout) and
# `launch CMD...` (backgrounds CMD pinned with taskset to $PROXY_CPU, logs to
# $CDIR/log, sets PROXY_PID; CMD must exec the server, not daemonise).
# $CDIR is a fresh directory under /tmp for every run. Child processes (e.g.
# nginx workers) are found from PROXY_PID and included in CPU%/RSS figures.
# Paths are relative to this directory (run.sh cd's here).

contender_haproxy() {
  case "$1" in
    version) haproxy -v | head -n1 | awk '{print "HAProxy " $3}' ;;
    start)
      render configs/haproxy.cfg > "$CDIR/haproxy.cfg"
      launch haproxy -db -f "$CDIR/haproxy.cfg" ;;
  esac
}

contender_nginx() {
  case "$1" in
    version) nginx -v 2>&1 | sed 's|nginx version: nginx/|nginx |' ;;
    start)
      mkdir -p "$CDIR/tmp"
      render configs/nginx-proxy.conf > "$CDIR/nginx.conf"
      launch nginx -p "$CDIR" -c "$CDIR/nginx.conf" ;;
  esac
}

contender_caddy() {
  case "$1" in
    version) caddy version | awk '{print "Caddy " $1}' ;;
    start)
      render configs/Caddyfile > "$CDIR/Caddyfile"
      launch env GOMAXPROCS=1 HOME="$CDIR" XDG_DATA_HOME="$CDIR/data" \
        XDG_CONFIG_HOME="$CDIR/config" \
        caddy run --adapter caddyfile --config "$CDIR/Caddyfile" ;;
  esac
}

# --- Rust peers (rust-peers/, vendored from the team's harness): build them
# with ./build-peers.sh into the project's target directory.
# pingora-lb: Cloudflare Pingora 0.9 (features lb + rustls), one service with
# all three listeners on ONE worker thread, pingora-load-balancing RoundRobin,
# HTTP health check GET /health every 2 s (background service thread).
lockver() {  # version of crate $1 in rust-peers/Cargo.lock
  awk -v n="name = \"$1\"" '$0==n{getline; gsub(/version = |"/,""); print; exit}' rust-peers/Cargo.lock
}
PEERS_TARGET=${PEERS_TARGET:-../../target/compare-peers/release}
PINGORA_BIN=${PINGORA_BIN:-$PEERS_TARGET/pingora-lb}
contender_pingora() {
  case "$1" in
    version) echo "Pingora $(lockver pingora) (pingora-lb; features lb, rustls)" ;;
    start)
      launch "$PINGORA_BIN" --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$HTTPS_PORT" \
        --redirect "127.0.0.1:$REDIR_PORT" --https-port "$HTTPS_PORT" \
        --backend "127.0.0.1:$BE1_PORT" --backend "127.0.0.1:$BE2_PORT" \
        --cert "$CERT" --key "$KEY" --threads 1 ;;
  esac
}

# hyper-bare: tokio current_thread + hyper 1 + hyper-util legacy pooled client
# + tokio-rustls (aws-lc-rs); round-robin via AtomicUsize; no health checks.
# The ceiling of Switchyard's own stack (no plugins, no config, no limits).
HYPERBARE_BIN=${HYPERBARE_BIN:-$PEERS_TARGET/hyper-bare}
contender_hyperbare() {
  case "$1" in
    version) echo "hyper-bare (hyper $(lockver hyper), hyper-util $(lockver hyper-util), tokio current_thread, rustls $(lockver rustls) aws-lc-rs)" ;;
    start)
      launch "$HYPERBARE_BIN" --http "127.0.0.1:$HTTP_PORT" --https "127.0.0.1:$HTTPS_PORT" \
        --redirect "127.0.0.1:$REDIR_PORT" --https-port "$HTTPS_PORT" \
        --backend "127.0.0.1:$BE1_PORT" --backend "127.0.0.1:$BE2_PORT" \
        --cert "$CERT" --key "$KEY" ;;
  esac
}

# Switchyard, the release binary of this repository (build it first:
# cargo build --release), with the default plugins deciding every request.
# Compiled plugins are kept in one cache for the whole run, as a proxy
# restarting on its host keeps them (~/.cache/switchyard by default): the
# functional check compiles them once, every measured run starts warm. A
# cold start compiles them with cranelift, which adds ~12 MB to the peak
# RSS (30 MB against 18 MB at start); set SWITCHYARD_COLD=1 to measure it.
SWITCHYARD_BIN=${SWITCHYARD_BIN:-../../target/release/switchyard}
switchyard_config() {
  local cache="$RUN_DIR/plugin-cache"
  [ "${SWITCHYARD_COLD:-0}" = 1 ] && cache="$CDIR/cache"
  render configs/switchyard.toml | sed "s|^plugin_cache = .*|plugin_cache = \"$cache\"|"
}
# switchyard_build BIN LABEL ACTION: the contender functions of a build.
switchyard_build() {
  case "$3" in
    version) echo "Switchyard $("$1" --version | awk '{print $2}')$2" ;;
    start)
      switchyard_config > "$CDIR/switchyard.toml"
      launch env RUST_LOG=warn "$1" run -c "$CDIR/switchyard.toml" ;;
  esac
}
contender_switchyard() { switchyard_build "$SWITCHYARD_BIN" "" "$1"; }

# Another build of Switchyard beside this one, to measure a change side by
# side in one run (build the baseline from an earlier commit, copy the
# binary aside, point SWITCHYARD_BASE_BIN at it): same configuration and
# plugin cache, `--contenders "switchyard switchyardbase ..."`.
SWITCHYARD_BASE_BIN=${SWITCHYARD_BASE_BIN:-}
contender_switchyardbase() {
  [ -x "$SWITCHYARD_BASE_BIN" ] || die "switchyardbase: set SWITCHYARD_BASE_BIN to a baseline build"
  switchyard_build "$SWITCHYARD_BASE_BIN" ", baseline build" "$1"
}

# The same with two workers (thread per core: two single-threaded runtimes,
# each with its own SO_REUSEPORT sockets and upstream pools), pinned like
# every contender: on one core this shows what a second worker costs per
# request (run.sh pins the proxy to one CPU, so it cannot show scaling).
contender_switchyard2w() {
  case "$1" in
    version) echo "Switchyard $("$SWITCHYARD_BIN" --version | awk '{print $2}'), workers = 2" ;;
    start)
      switchyard_config | sed 's/^workers = 1$/workers = 2/' > "$CDIR/switchyard.toml"
      launch env RUST_LOG=warn "$SWITCHYARD_BIN" run -c "$CDIR/switchyard.toml" ;;
  esac
}
