#!/usr/bin/env bash
# One command from a fresh clone on Debian: install the prerequisites, build the `eddy`
# binary (release) and run its main job on an embedded broker: continuous SQL (the
# page-views example: a stream-table join, an aggregation materialised into a topic, a
# windowed count), after the durable log's own demo. Extra arguments go to `eddy demo`, e.g.
#
#   ./scripts/demo.sh --records 100000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
echo "demo: building eddy (release; the first build takes a few minutes)"
cargo build --release --bin eddy
eddy="${CARGO_TARGET_DIR:-target}/release/eddy"
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
echo
echo "demo: the durable log (eddy demo)"
"$eddy" demo --data-dir "$data/log" "$@"
echo
echo "demo: continuous SQL on an embedded broker (eddy sql run examples/page_views_per_region.sql)"
"$eddy" sql run --data-dir "$data/sql" examples/page_views_per_region.sql
