#!/usr/bin/env bash
# Builds {{name_snake}}.wasm, a Switchyard plugin component, from plugin.c.
#
# Needs clang with the wasm32 target, lld (wasm-ld), a WASI sysroot, the
# wasm32 compiler-rt builtins, wit-bindgen-cli 0.46 and wasm-tools:
#   apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32
#   cargo install --locked wit-bindgen-cli@0.46.0 wasm-tools@1.240.0
#
# Env: CC      C compiler (default: clang)
#      SYSROOT WASI sysroot (default: Debian's wasi-libc layout, /usr)
set -euo pipefail
cd "$(dirname "$0")"
CC="${CC:-clang}"
SYSROOT="${SYSROOT:-/usr}"

# 1. C bindings for the world: gen/request_plugin.{c,h} and the component
#    type, an object file carrying the WIT that wasm-tools reads back.
#    Borrowed handles are dropped by plugin.c itself (autodrop off).
rm -rf gen
mkdir -p gen
wit-bindgen c --world request-plugin --autodrop-borrows no --out-dir gen wit

# 2. A core module (reactor: no main).
"$CC" --target=wasm32-wasi --sysroot="$SYSROOT" -mexec-model=reactor \
    -O2 -std=c11 -Wall -Wextra -Werror=implicit-function-declaration \
    -Igen -Wl,--strip-debug \
    -o gen/plugin.core.wasm \
    plugin.c gen/request_plugin.c gen/request_plugin_component_type.o

# Plugins get no WASI: the module must import only switchyard:plugin.
if wasm-tools print gen/plugin.core.wasm | grep -q '(import "wasi'; then
    echo "error: the core module imports WASI functions (stdio? time?):" >&2
    wasm-tools print gen/plugin.core.wasm | grep '(import "wasi' >&2
    exit 1
fi

# 3. The component: the core module wrapped with its WIT interfaces. It is
#    written in gen/ and renamed into place, so a proxy watching the file
#    never reads a half-written component.
wasm-tools component new gen/plugin.core.wasm -o gen/{{name_snake}}.wasm
wasm-tools validate --features component-model gen/{{name_snake}}.wasm
mv -f gen/{{name_snake}}.wasm {{name_snake}}.wasm
echo "built {{name_snake}}.wasm ($(wc -c <{{name_snake}}.wasm) bytes)"
