#!/usr/bin/env bash
# Fuzzes kv2sql with cargo-fuzz (libFuzzer): each target runs for a bounded time.
#
#   scripts/fuzz.sh [seconds-per-target] [target…]     (default: 60 s; mapping extract dump split)
#
# Targets (fuzz/fuzz_targets/):
#   mapping  arbitrary bytes as mapping.yaml → kv2sql_codegen::parse, and generate if valid
#   extract  arbitrary bytes as one KV value of the example dump → migrate into in-memory
#            SQLite; must return Ok or Err, and on Ok the export must equal the upgraded input
#   dump     arbitrary bytes as a `wrangler kv bulk` file → parse_dump; write_dump round-trips
#   split    arbitrary bytes as a value whose `items` array is streamed → the splitter and a
#            whole-tree parse accept and refuse alike, with the same value or error; the export
#            text of an accepted value (lone surrogate escapes included) parses back to it
#
# Needs a nightly toolchain for libFuzzer's instrumentation flags: `cargo +nightly` when rustup
# has one, else the stable toolchain with RUSTC_BOOTSTRAP=1 (set FUZZ_TOOLCHAIN to override).
# Crashes land in fuzz/artifacts/<target>/; turn each into a test in tests/tests/hostile.rs.
# Not run in CI.
set -euo pipefail

secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(mapping extract dump split)

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

toolchain=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
  toolchain=("+$FUZZ_TOOLCHAIN")
elif command -v rustup >/dev/null 2>&1 && rustup toolchain list | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
sanitizer="${FUZZ_SANITIZER:-address}"

# Seed corpora from the project's own files (kept out of git: fuzz/.gitignore).
mkdir -p corpus/mapping corpus/extract corpus/dump corpus/split
cp "$root/mapping.yaml" corpus/mapping/mapping.yaml
cp "$root/examples/v1-dump.json" corpus/dump/v1-dump.json
cp "$root/examples/v1-legacy-dump.json" corpus/dump/v1-legacy-dump.json
python3 - "$root" <<'PY'
import json, sys, os
root = sys.argv[1]
keys = ["roadmap:items", "roadmap:events", "roadmap:message-archive", "roadmap:mention-scan",
        "roadmap:github-map", "roadmap:github-scan", "roadmap:agent-cache:"]
for dump in ("v1-dump.json", "v1-legacy-dump.json"):
    for e in json.load(open(os.path.join(root, "examples", dump))):
        for i, k in enumerate(keys):
            if e["key"] == k or (k.endswith(":") and e["key"].startswith(k)):
                name = f"corpus/extract/{dump[:-5]}-{i}"
                with open(name, "wb") as f:
                    f.write(bytes([i]) + e["value"].encode())
                with open(f"corpus/split/{dump[:-5]}-{i}", "wb") as f:
                    f.write(e["value"].replace('"events":', '"items":').replace('"messages":', '"items":').encode())
for i, seed in enumerate([r'{"items":["\ud83d",{"\udc00":"\ufdd0"}],"items":null}', r'{"a":"\ud83d\ude00\ude00","items":[[]]}']):
    with open(f"corpus/split/seed-{i}", "wb") as f:
        f.write(seed.encode())
PY

status=0
for t in "${targets[@]}"; do
  echo "== fuzz target $t: ${secs}s (sanitizer $sanitizer)"
  extra=()
  case "$t" in
    extract|dump|split) extra=(-dict=json.dict -max_len=65536) ;;
  esac
  log="${TMPDIR:-/tmp}/kv2sql-fuzz-$t.log"
  set +e
  cargo "${toolchain[@]}" fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 "${extra[@]}" >"$log" 2>&1
  rc=$?
  set -e
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|==[0-9]+==ERROR)|panicked at' "$log" || true
  if [ $rc -ne 0 ]; then
    echo "!! $t failed (exit $rc): see fuzz/artifacts/$t/ and $log"
    tail -n 30 "$log"
    status=1
  fi
done
exit $status
