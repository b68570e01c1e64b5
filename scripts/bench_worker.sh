#!/usr/bin/env bash
# Times POST /api/migrate of the built Worker under workerd (Miniflare, as the e2e tests run it:
# in-memory KV and Durable Object storage, no network) on a seeded Large dump, and reports the
# wasm bundle size.
#
#   scripts/bench_worker.sh [--runs K] [--seed N] [--size S] [--no-build]
#
# Each run starts a fresh Worker instance (empty Durable Object), seeds KV (untimed), then times
# the first POST /api/migrate (wall time, client side) and a second, idempotent one. Needs
# scripts/setup.sh once (node_modules, wasm toolchain); builds with scripts/build-worker.sh
# unless --no-build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3
seed=1
size=large
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --size) size="$2"; shift ;;
    --no-build) build=0 ;;
    *) echo "bench_worker.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export WRANGLER_SEND_METRICS=false
if [ "$build" = 1 ]; then
  bash "$root/scripts/build-worker.sh"
fi
wasm="$root/worker/build/index_bg.wasm"
[ -f "$wasm" ] || { echo "bench_worker.sh: $wasm missing: run scripts/build-worker.sh" >&2; exit 1; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kv2sql-bench-worker.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cargo build --release -q -p kv2sql-datagen --manifest-path "$root/Cargo.toml"
"$CARGO_TARGET_DIR/release/kv2sql-datagen" --seed "$seed" --size "$size" > "$tmp/dump.json"

raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
js=$(stat -c %s "$root/worker/build/index.js")
echo "wasm bundle: index_bg.wasm $raw bytes raw, $gz bytes gzip -9; index.js $js bytes"

cat > "$tmp/bench.mjs" <<'EOF'
import { pathToFileURL } from "node:url";
const [harnessPath, dumpPath, runsArg] = process.argv.slice(2);
const { startWorker, seedKv, loadDump, migrate } = await import(pathToFileURL(harnessPath).href);
const entries = loadDump(dumpPath);
const bytes = entries.reduce((n, e) => n + e.key.length + e.value.length, 0);
console.log(`dump: ${entries.length} entries, ${bytes} bytes`);
const first = [], second = [];
let rows = null, rerunRows = null;
for (let i = 0; i < Number(runsArg); i++) {
  const { mf, kv } = await startWorker({ selftest: false });
  try {
    await seedKv(kv, entries);
    let t = performance.now();
    const r1 = await migrate(mf);
    first.push((performance.now() - t) / 1000);
    if (r1.status !== 200) throw new Error(`POST /api/migrate: ${r1.status} ${r1.text.slice(0, 500)}`);
    rows = r1.json.rows_written;
    t = performance.now();
    const r2 = await migrate(mf);
    second.push((performance.now() - t) / 1000);
    if (r2.status !== 200) throw new Error(`re-run: ${r2.status} ${r2.text.slice(0, 500)}`);
    rerunRows = r2.json.rows_written;
    console.log(`run ${i + 1}: ${first.at(-1).toFixed(2)} s, rows_written ${rows}; re-run ${second.at(-1).toFixed(2)} s, rows_written ${rerunRows}`);
  } finally {
    await mf.dispose();
  }
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const m = median(first);
console.log(`workerd POST /api/migrate: median ${m.toFixed(2)} s of ${first.length}, rows_written ${rows} (the Durable Object counts index entries too), ${(bytes / 1e6 / m).toFixed(2)} MB/s of input; idempotent re-run median ${median(second).toFixed(2)} s, rows_written ${rerunRows}`);
console.log(`WORKER_RESULT rows=${rows} median_s=${m.toFixed(4)} rerun_s=${median(second).toFixed(4)} rerun_rows=${rerunRows}`);
EOF
cd "$root/worker"
node "$tmp/bench.mjs" "$root/worker/tests/harness.mjs" "$tmp/dump.json" "$runs"
