#!/usr/bin/env bash
# Builds the Worker from another mapping (e.g. a schema release of tests/evolution/) without
# touching this checkout: copies the repository's sources (git ls-files: tracked and untracked,
# not ignored, so no target/, node_modules/ or build/) to a temporary folder, puts the mapping
# there as mapping.yaml, and runs that copy's scripts/build-worker.sh. Building the worker runs
# generated/build.rs, which regenerates the copy's generated/ (schema.sql, src/lib.rs and the
# new generated/migrations/NNNN_*.sql) from the mapping; a mapping inconsistent with the
# released migrations fails the build with the codegen's diagnostic.
#
#   scripts/build-worker-variant.sh <mapping.yaml> <out-dir>
#
# <out-dir> receives index.js, index_bg.wasm, … (what worker/build/ holds) plus migrations/, the
# copy's generated/migrations/. worker/build/ of this checkout is left alone.
#
# The cargo target folder is shared with the main Worker build (CARGO_TARGET_DIR, default
# worker/target of this checkout), so only the crates from the copy (runtime, generated, api,
# the worker) are compiled again: about a minute instead of a full build. The copy's worker crate
# is renamed kv2sql-worker-variant, so its .wasm never overwrites the main build's
# (target/wasm32-unknown-unknown/release/kv2sql_worker.wasm): cargo would otherwise consider the
# main build fresh and worker-build would package the variant.
#
# Environment: KV2SQL_VARIANT_KEEP=1 keeps the temporary copy (its path is printed).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 <mapping.yaml> <out-dir>" >&2; exit 2; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mapping="$(realpath "$1")"
out="$(realpath -m "$2")"
[ -f "$mapping" ] || { echo "build-worker-variant: $mapping: no such file" >&2; exit 1; }
[ -d "$root/worker/node_modules" ] || { echo "build-worker-variant: worker/node_modules missing: run scripts/setup.sh" >&2; exit 1; }

start=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/kv2sql-variant.XXXXXX")"
cleanup() {
  if [ "${KV2SQL_VARIANT_KEEP:-0}" = 1 ]; then
    echo "build-worker-variant: kept $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# The sources as they are in the working tree (tracked files deleted there are skipped).
(
  cd "$root"
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -
) | tar -C "$work" -xf -
cp "$mapping" "$work/mapping.yaml"
ln -s "$root/worker/node_modules" "$work/worker/node_modules"
if [ -f "$root/worker/.wasm-toolchain.env" ]; then cp "$root/worker/.wasm-toolchain.env" "$work/worker/"; fi
# A distinct crate (and so .wasm) name in the shared target folder; see above.
sed -i 's/^name = "kv2sql-worker"$/name = "kv2sql-worker-variant"/' "$work/worker/Cargo.toml" "$work/worker/Cargo.lock"
grep -q '^name = "kv2sql-worker-variant"$' "$work/worker/Cargo.toml" ||
  { echo "build-worker-variant: could not rename the worker crate in worker/Cargo.toml" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/worker/target}"
echo "build-worker-variant: building $mapping in $work (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
bash "$work/scripts/build-worker.sh" >&2

[ -f "$work/worker/build/index.js" ] || { echo "build-worker-variant: no worker/build/index.js in the copy" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
cp -R "$work/worker/build/." "$out/"
cp -R "$work/generated/migrations" "$out/migrations"
echo "build-worker-variant: $out ($(ls "$out/migrations" | grep -c '\.sql$') migrations) in $(($(date +%s) - start)) s" >&2
