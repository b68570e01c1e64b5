#!/usr/bin/env bash
# Installs what the Worker build (scripts/build-worker.sh) and its end-to-end tests
# (scripts/e2e.sh) need. Idempotent, and quick when everything is already there:
#
#   1. the wasm32-unknown-unknown Rust target: `rustup target add`; if that fails, Debian's
#      rustc-web / cargo-web / rust-web-src (standard library built from source, recorded in
#      worker/.wasm-toolchain.env for build-worker.sh);
#   2. wasm-bindgen-cli at exactly the version of `wasm-bindgen` in worker/Cargo.lock;
#   3. worker-build at the version of `worker` in worker/Cargo.lock (0.8.7);
#   4. `npm ci` in worker/ (wrangler, miniflare/workerd, esbuild, binaryen's wasm-opt), skipped
#      when node_modules was installed from the same package-lock.json.
#   5. the distribution's `sqlite3` (apt-get, when it is missing): tests/tests/old_sqlite.rs checks,
#      dumps and restores the databases with it (Debian 12's is SQLite 3.40).
#
# Only package registries are used (crates.io, npm, Debian): worker-build's own downloads from
# github.com are replaced by the binaries installed here.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
worker="$root/worker"
export PATH="$HOME/.cargo/bin:$PATH"
log() { printf 'setup: %s\n' "$*"; }

# The version of a package in worker/Cargo.lock.
locked_version() {
  awk -v name="$1" '
    $0 == "name = \"" name "\"" { found = 1; next }
    found && /^version = / { gsub(/"/, "", $3); print $3; exit }
  ' "$worker/Cargo.lock"
}

# --- 1. Rust target ------------------------------------------------------------------------
wasm_target_ok() {
  local libdir
  libdir="$(rustc --target wasm32-unknown-unknown --print target-libdir 2>/dev/null)" || return 1
  [ -d "$libdir" ] && ls "$libdir"/libstd-*.rlib >/dev/null 2>&1
}

debian_fallback_ok() {
  [ -f "$worker/.wasm-toolchain.env" ] && dpkg -s rustc-web cargo-web rust-web-src >/dev/null 2>&1
}

if wasm_target_ok; then
  log "wasm32-unknown-unknown: present"
  rm -f "$worker/.wasm-toolchain.env"
elif debian_fallback_ok; then
  log "wasm32-unknown-unknown: Debian rustc-web fallback present (worker/.wasm-toolchain.env)"
elif command -v rustup >/dev/null && rustup target add wasm32-unknown-unknown && wasm_target_ok; then
  log "wasm32-unknown-unknown: added with rustup"
  rm -f "$worker/.wasm-toolchain.env"
else
  log "rustup could not add wasm32-unknown-unknown: falling back to Debian's rustc-web (std built from source)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rustc-web cargo-web rust-web-src
  # The linker: rust-lld from a rustup toolchain if there is one, else Debian's.
  lld=""
  for c in "$(rustc --print sysroot 2>/dev/null)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld" \
           "$(/usr/bin/rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld" \
           "$(command -v rust-lld || true)" "$(command -v wasm-ld || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then lld="$c"; break; fi
  done
  [ -n "$lld" ] || { echo "setup: no rust-lld or wasm-ld found for the Debian fallback" >&2; exit 1; }
  # worker-build refuses to start unless the target's libdir exists as a folder.
  mkdir -p "$(/usr/bin/rustc --target wasm32-unknown-unknown --print target-libdir)"
  cat >"$worker/.wasm-toolchain.env" <<EOF
# Written by scripts/setup.sh: Debian's rustc-web/cargo-web, building std from rust-web-src.
export PATH="/usr/bin:\$PATH"
export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$lld"
EOF
  log "wrote worker/.wasm-toolchain.env (read by scripts/build-worker.sh)"
fi

# --- 2. wasm-bindgen-cli -------------------------------------------------------------------
bindgen_version="$(locked_version wasm-bindgen)"
[ -n "$bindgen_version" ] || { echo "setup: no wasm-bindgen in worker/Cargo.lock" >&2; exit 1; }
if [ "$(wasm-bindgen --version 2>/dev/null || true)" = "wasm-bindgen $bindgen_version" ]; then
  log "wasm-bindgen $bindgen_version: present"
else
  log "installing wasm-bindgen-cli $bindgen_version (cargo install --locked, a few minutes)"
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked --force
fi

# --- 3. worker-build -----------------------------------------------------------------------
worker_version="$(locked_version worker)"
[ -n "$worker_version" ] || { echo "setup: no worker in worker/Cargo.lock" >&2; exit 1; }
if [ "$(worker-build --version 2>/dev/null || true)" = "$worker_version" ]; then
  log "worker-build $worker_version: present"
else
  log "installing worker-build $worker_version (cargo install --locked, a few minutes)"
  cargo install worker-build --version "$worker_version" --locked --force
fi

# --- 4. npm packages -----------------------------------------------------------------------
lock_hash="$(sha256sum "$worker/package-lock.json" | cut -d' ' -f1)"
stamp="$worker/node_modules/.kv2sql-lock-hash"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ] && [ -x "$worker/node_modules/.bin/wrangler" ]; then
  log "worker/node_modules: up to date with package-lock.json"
else
  log "npm ci in worker/"
  (cd "$worker" && WRANGLER_SEND_METRICS=false npm ci --no-audit --no-fund)
  echo "$lock_hash" >"$stamp"
fi

# --- 5. sqlite3 -----------------------------------------------------------------------------
if command -v sqlite3 >/dev/null; then
  log "sqlite3 $(sqlite3 --version | cut -d' ' -f1): present"
else
  log "installing the distribution's sqlite3 (apt-get)"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends sqlite3
fi

log "done: $(rustc --version), wasm-bindgen $bindgen_version, worker-build $worker_version, node $(node --version), sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
