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
start=$(date +%s)
worker-build --release "$@"
end=$(date +%s)
wasm="$root/worker/build/index_bg.wasm"
if [ -f "$wasm" ]; then
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "build-worker: built in $((end - start)) s; index_bg.wasm $raw bytes, $gz bytes gzip -9"
fi
