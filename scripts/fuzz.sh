#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another.
# `make fuzz` runs them long; `make test` runs them briefly. Findings land in
# fuzz/artifacts/<target>/ and stop the run with a non-zero status.
# Each target's corpus grows under ~/.cache/toss/fuzz-corpus/, seeded from fuzz/seeds/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
export CARGO_TARGET_DIR="${TOSS_FUZZ_TARGET_DIR:-$HOME/.cache/toss/fuzz-target}"
corpus_root="${TOSS_FUZZ_CORPUS:-$HOME/.cache/toss/fuzz-corpus}"

# libFuzzer's own instrumentation only: the targets are safe Rust, so a panic is the finding
# and AddressSanitizer (which needs a nightly compiler) would add nothing.
flags=(--sanitizer none -O)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in names transfer_msg signal_msg; do
    mkdir -p "$corpus_root/$target"
    echo "fuzz: $target for ${seconds}s"
    status=0
    cargo fuzz run "${flags[@]}" "$target" "$corpus_root/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -dict=json.dict -max_len=4096 -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|Done)' "$log" || true
    if [ "$status" -ne 0 ]; then
        grep -v -E '^ +([0-9]+: | at )' "$log" | tail -40
        echo "fuzz: $target found a failing input (status $status); see fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
done
