#!/usr/bin/env bash
# Builds acl.wasm, a Switchyard plugin component, from acl.c.
#
# Needs clang with the wasm32 target, lld (wasm-ld), a WASI sysroot, the
# wasm32 compiler-rt builtins, wit-bindgen-cli 0.46 and wasm-tools:
#   apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32
#   cargo install --locked wit-bindgen-cli@0.46.0 wasm-tools@1.240.0
#
# Env: OUT     output path (default: acl.wasm next to this script; a
#              relative path is taken from the directory you run it in)
#      CC      C compiler (default: clang)
#      SYSROOT WASI sysroot (default: Debian's wasi-libc layout, /usr)
set -euo pipefail
if [[ -n "${OUT:-}" && "$OUT" != /* ]]; then
    OUT="$PWD/$OUT"
fi
cd "$(dirname "$0")"

OUT="${OUT:-acl.wasm}"
CC="${CC:-clang}"
SYSROOT="${SYSROOT:-/usr}"

# 1. C bindings for the world (request_plugin.{c,h} and the component type,
#    an object file carrying the WIT that wasm-tools reads back). Borrowed
#    handles are dropped by acl.c itself (autodrop off, the default).
rm -rf gen
mkdir -p gen
wit-bindgen c --world request-plugin --autodrop-borrows no --out-dir gen ../../../wit

# 2. A core module (reactor: no main; _initialize runs constructors).
#    Nothing used from wasi-libc calls WASI, so the module imports only
#    switchyard:plugin functions. The check below keeps it that way.
"$CC" --target=wasm32-wasi --sysroot="$SYSROOT" -mexec-model=reactor \
    -O2 -std=c11 -Wall -Wextra -Werror=implicit-function-declaration \
    -Igen -Wl,--strip-debug \
    -o gen/acl.core.wasm \
    acl.c gen/request_plugin.c gen/request_plugin_component_type.o

if wasm-tools print gen/acl.core.wasm | grep -q '(import "wasi'; then
    echo "error: the core module imports WASI functions:" >&2
    wasm-tools print gen/acl.core.wasm | grep '(import "wasi' >&2
    exit 1
fi

# 3. The component: the core module wrapped with its WIT interfaces.
wasm-tools component new gen/acl.core.wasm -o "$OUT"
wasm-tools validate --features component-model "$OUT"
echo "built $OUT ($(wc -c <"$OUT") bytes)"
