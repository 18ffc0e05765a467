#!/bin/sh
# keepalived's notify: called as `notify TYPE NAME STATE PRIORITY` on
# every transition. Appends one line per transition:
#   2026-12-05T10:00:01.123456Z switchyard MASTER 150
log="${SWITCHYARD_VRRP_LOG:-/var/log/switchyard-vrrp.log}"
printf '%s %s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)" "$2" "$3" "$4" >>"$log"
