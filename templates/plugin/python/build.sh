#!/usr/bin/env bash
# Builds {{name_snake}}.wasm, a Switchyard plugin component, from app.py.
#
# Needs componentize-py:
#   pip install componentize-py==0.25.1
#
# componentize-py embeds CPython: the component is ~18 MB and takes
# seconds to compile, once (Switchyard keeps the compiled artifact on disk).
set -euo pipefail
cd "$(dirname "$0")"

# Written next to the target and renamed into place, so a proxy watching
# the file never reads a half-written component.
componentize-py --wit-path wit --world request-plugin componentize app --output {{name_snake}}.wasm.new
mv -f {{name_snake}}.wasm.new {{name_snake}}.wasm
echo "built {{name_snake}}.wasm ($(wc -c <{{name_snake}}.wasm) bytes)"
