# contenders.sh — one function per contender, sourced by run.sh.
# (Vendored from the team's anchor harness, ../shared/bench, with
# contender_switchyard added; everything else is unchanged so figures stay
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

# Switchyard, the release binary of this repository (build it first:
# cargo build --release), with the default plugins deciding every request.
SWITCHYARD_BIN=${SWITCHYARD_BIN:-../../target/release/switchyard}
contender_switchyard() {
  case "$1" in
    version) echo "Switchyard $("$SWITCHYARD_BIN" --version | awk '{print $2}')" ;;
    start)
      render configs/switchyard.toml > "$CDIR/switchyard.toml"
      launch env RUST_LOG=warn "$SWITCHYARD_BIN" run -c "$CDIR/switchyard.toml" ;;
  esac
}
