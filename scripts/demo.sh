#!/usr/bin/env bash
# One command from a fresh clone on Debian: install the prerequisites, build the `eddy`
# binary (release) and run its demo. Extra arguments go to `eddy demo`, e.g.
#
#   ./scripts/demo.sh --records 100000 --data-dir /tmp/eddy-data
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
echo "demo: building eddy (release; the first build takes a few minutes)"
cargo build --release --bin eddy
exec cargo run --quiet --release --bin eddy -- demo "$@"
