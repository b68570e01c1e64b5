#!/usr/bin/env bash
# Builds the Worker with worker-build (scripts/build-worker.sh) and runs its end-to-end tests
# under workerd (worker/tests/*.test.mjs, node's test runner driving Miniflare's API: no ports,
# fresh in-memory KV and Durable Object storage per Worker instance, everything disposed).
#
#   scripts/e2e.sh                 build, then run every test file
#   scripts/e2e.sh --no-build      run the tests against the existing worker/build/
#   scripts/e2e.sh -- <files|args> extra arguments for `node --test` (e.g. tests/auth.test.mjs)
#
# Environment: KV2SQL_DUMP=<file> seeds KV from that `wrangler kv bulk` dump instead of
# examples/v1-dump.json (or worker/tests/fixtures/v1-dump.json while that does not exist).
# Run scripts/setup.sh first on a fresh machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=1
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --) shift; args+=("$@"); break ;;
    *) args+=("$1") ;;
  esac
  shift
done

export WRANGLER_SEND_METRICS=false
if [ "$build" = 1 ]; then
  bash "$root/scripts/build-worker.sh"
fi
cd "$root/worker"
[ -d node_modules/miniflare ] || { echo "e2e: worker/node_modules missing: run scripts/setup.sh" >&2; exit 1; }
if [ ${#args[@]} -eq 0 ]; then
  args=(tests/)
fi
start=$(date +%s)
# One test file at a time: each starts its own workerd processes, and the machine has 2 cores.
node --test --test-concurrency=1 "${args[@]}"
echo "e2e: tests passed in $(( $(date +%s) - start )) s"
