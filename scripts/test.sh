#!/usr/bin/env bash
# The whole test suite: the native tests (every crate of the workspace), then the Worker end to
# end under workerd. Installs what the Worker needs first (scripts/setup.sh: idempotent, quick
# when everything is there).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/setup.sh
cargo test --workspace --locked
bash scripts/e2e.sh
