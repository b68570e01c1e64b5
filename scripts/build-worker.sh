#!/usr/bin/env bash
# Builds the Worker (worker/build/) with worker-build, using the tools scripts/setup.sh installed:
# wasm-bindgen from ~/.cargo/bin (worker-build would download it from github.com, unreachable
# here) and esbuild from worker/node_modules. wasm-opt: binaryen's when WASM_OPT_BIN is set,
# otherwise off (Cargo.toml: wasm-opt = false).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/worker"
export PATH="$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export ESBUILD_BIN="${ESBUILD_BIN:-$root/worker/node_modules/.bin/esbuild}"
[ -x "$ESBUILD_BIN" ] || { echo "build-worker: $ESBUILD_BIN missing: run scripts/setup.sh" >&2; exit 1; }
[ -x "$WASM_BINDGEN_BIN" ] || { echo "build-worker: wasm-bindgen missing: run scripts/setup.sh" >&2; exit 1; }
opt=()
export WASM_OPT_BIN="${WASM_OPT_BIN:-$root/worker/node_modules/.bin/wasm-opt}"
if [ ! -x "$WASM_OPT_BIN" ]; then
  echo "build-worker: no wasm-opt at $WASM_OPT_BIN: building without it (larger bundle)" >&2
  unset WASM_OPT_BIN
  opt=(--no-opt)
fi
# The Debian fallback toolchain of scripts/setup.sh (when rustup could not add the target).
if [ -f "$root/worker/.wasm-toolchain.env" ]; then
  # shellcheck disable=SC1091
  . "$root/worker/.wasm-toolchain.env"
fi
start=$(date +%s)
worker-build --release "${opt[@]}" "$@"
wasm="$root/worker/build/index_bg.wasm"
# Function names are kept only on request (KEEP_WASM_NAMES=1): they only serve wasm stack traces.
if [ "${KEEP_WASM_NAMES:-0}" != 1 ] && [ -f "$wasm" ]; then
  node "$root/scripts/strip-wasm-names.mjs" "$wasm"
fi
end=$(date +%s)
if [ -f "$wasm" ]; then
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "build-worker: built in $((end - start)) s; index_bg.wasm $raw bytes, $gz bytes gzip -9"
fi
