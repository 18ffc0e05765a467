#!/usr/bin/env bash
# Builds the Rust peers of the comparison (rust-peers/: pingora-lb and
# hyper-bare, vendored from the team's harness with their Cargo.lock) into
# the project's target directory, target/compare-peers/release/, where
# contenders.sh looks for them. Pingora's zlib (libz-ng-sys) needs cmake.
#
#   benches/compare/build-peers.sh [--install]   # --install: apt-get install cmake first
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == --install ]] && ! command -v cmake >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null
fi
command -v cmake >/dev/null || { echo "build-peers: Pingora's build needs cmake (apt-get install cmake, or --install)" >&2; exit 1; }
cargo build --release --locked --manifest-path rust-peers/Cargo.toml --target-dir ../../target/compare-peers
ls -l ../../target/compare-peers/release/pingora-lb ../../target/compare-peers/release/hyper-bare
