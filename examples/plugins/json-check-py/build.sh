#!/usr/bin/env bash
# Builds json_check.wasm (or $OUT) from app.py with componentize-py.
#
#   pip install componentize-py==0.25.1
#   ./build.sh
#   OUT=/tmp/s.wasm ./build.sh   # elsewhere (relative: to the caller's directory)
#
# componentize-py embeds CPython: the component is ~18 MB and takes seconds
# to compile, once (Switchyard keeps the compiled artifact on disk).
set -euo pipefail
if [ -n "${OUT:-}" ] && [ "${OUT#/}" = "$OUT" ]; then
  OUT="$PWD/$OUT"
fi
cd "$(dirname "$0")"
OUT="${OUT:-json_check.wasm}"
componentize-py --wit-path ../../../wit --world body-plugin componentize app --output "$OUT"
echo "built $OUT ($(wc -c < "$OUT") bytes)"
