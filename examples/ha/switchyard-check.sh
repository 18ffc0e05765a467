#!/bin/sh
# keepalived's track_script: is this node's Switchyard ready to serve?
# `switchyard status --ready` asks GET /health on the admin endpoint and
# exits 0 (ready) or 1 (not ready, or no answer within 2 s).
exec "${SWITCHYARD:-/usr/local/bin/switchyard}" status --ready --admin "${SWITCHYARD_ADMIN:-127.0.0.1:9901}" >/dev/null
