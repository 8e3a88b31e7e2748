#!/usr/bin/env bash
# Runs the broker's protocol fuzz target (fuzz/fuzz_targets/decode_request.rs) for a fixed
# time: `bash scripts/fuzz.sh [SECONDS]` (60 by default). CI runs it for a short time.
#
# Built with plain cargo on the stable toolchain: cargo-fuzz's own flags minus the address
# sanitizer (the only nightly-only one), so neither nightly nor cargo-fuzz is needed. The
# target dir is separate (the coverage flags would otherwise invalidate the main build).
# A crash leaves its input in fuzz/artifacts/ and fails the script; the corpus grows in
# fuzz/corpus/decode_request (both ignored by git).
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target_dir=${EDDY_FUZZ_TARGET_DIR:-$HOME/.cache/eddy/target-fuzz}
corpus=$root/fuzz/corpus/decode_request
artifacts=$root/fuzz/artifacts/decode_request
mkdir -p "$corpus" "$artifacts"

export RUSTFLAGS="--cfg fuzzing -Cdebug-assertions -Coverflow-checks \
-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares"
# An explicit --target keeps RUSTFLAGS off build scripts (they cannot link the coverage hooks).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --manifest-path "$root/fuzz/Cargo.toml" --bin decode_request \
  --target-dir "$target_dir" --target "$host"

# -rss_limit_mb: a frame that makes the decoder allocate what a length field claims fails.
# libFuzzer reports every new input; its log goes to a file and only the end is shown.
log=$target_dir/decode_request.log
set +e
"$target_dir/$host/release/decode_request" "$corpus" \
  -artifact_prefix="$artifacts/" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 2>"$log"
rc=$?
set -e
if ((rc != 0)); then
  tail -n 60 "$log"
  echo "fuzz: decode_request failed (exit $rc); the input is in $artifacts/" >&2
  exit "$rc"
fi
grep -E '^(Done|stat::)' "$log"
