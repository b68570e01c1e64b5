#!/usr/bin/env bash
# Runs the kv2sql benchmarks (BENCHMARKS.md) and the dlt peer on the same Large dump, and prints
# the dlt / kv2sql time ratio.
#
#   scripts/bench.sh [--runs K] [--seed N] [--no-dlt] [-- <extra kv2sql-bench arguments>]
#
# Environment: CARGO_TARGET_DIR (default: target/), PYTHON (default: python3; needs
# `pip install -r scripts/requirements-bench.txt` for the dlt part).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=5
seed=1
dlt=1
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --no-dlt) dlt=0 ;;
    --) shift; extra+=("$@"); break ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
python="${PYTHON:-python3}"
out="$(mktemp -d "${TMPDIR:-/tmp}/kv2sql-bench-sh.XXXXXX")"
trap 'rm -rf "$out"' EXIT

cd "$root"
cargo build --release -q -p kv2sql-bench -p kv2sql-datagen
"$CARGO_TARGET_DIR/release/kv2sql-bench" --seed "$seed" --runs "$runs" "${extra[@]}" | tee "$out/kv2sql.txt"

if [ "$dlt" = 0 ]; then
  exit 0
fi
echo
echo "## dlt peer (scripts/bench_dlt.py), size large, seed $seed"
if ! "$python" -c 'import dlt' 2>/dev/null; then
  echo "dlt not measured: '$python -c \"import dlt\"' failed; run: $python -m pip install -r scripts/requirements-bench.txt"
  exit 0
fi
# The same data as kv2sql-bench's `large` (same seed); --now only sets agent-cache expirations.
"$CARGO_TARGET_DIR/release/kv2sql-datagen" --seed "$seed" --size large > "$out/dump-large.json"
"$python" "$root/scripts/bench_dlt.py" "$out/dump-large.json" --runs "$runs" 2> "$out/dlt.stderr" | tee "$out/dlt.txt"
echo "dlt wrote $(grep -c 'WARNING' "$out/dlt.stderr" || true) warning lines to stderr; the first ones:"
grep -m 3 'WARNING' "$out/dlt.stderr" | sed -E 's/^.*\|(dlt\|)/\1/' | cut -c1-240 || true

k=$(grep -o 'KV2SQL_RESULT size=large rows=[0-9]* median_s=[0-9.]*' "$out/kv2sql.txt" || true)
d=$(grep -o 'DLT_RESULT rows=[0-9]* median_s=[0-9.]*' "$out/dlt.txt" || true)
if [ -n "$k" ] && [ -n "$d" ]; then
  ks=${k##*median_s=}; kr=${k#*rows=}; kr=${kr%% *}
  ds=${d##*median_s=}; dr=${d#*rows=}; dr=${dr%% *}
  echo
  echo "| loader (size large, seed $seed) | rows | median time | rows/s |"
  echo "|---|---|---|---|"
  awk -v kr="$kr" -v ks="$ks" -v dr="$dr" -v ds="$ds" 'BEGIN {
    printf "| kv2sql (generated) | %d | %.2f s | %.0f |\n", kr, ks, kr / ks
    printf "| dlt (sqlalchemy + SQLite) | %d | %.2f s | %.0f |\n", dr, ds, dr / ds
    printf "\ndlt takes %.1fx kv2sql'"'"'s time (rows differ: see BENCHMARKS.md)\n", ds / ks
  }'
else
  echo "ratio not computed: kv2sql size large or dlt result missing (run with --size including large)"
fi
