#!/usr/bin/env bash
# Fuzzes ferrohub-proxy for a bounded time: route matching and the REST API
# (fuzz/fuzz_targets/). Usage: scripts/fuzz.sh [seconds-per-target] [target...]
# (default 60 s, both targets). Fails if any target finds a crash; the input
# is left in fuzz/artifacts/<target>/ (replay: add it to the run below).
#
# Only stable Rust is installed: cargo-fuzz needs nightly flags (-Z
# sanitizer), which RUSTC_BOOTSTRAP=1 unlocks on stable. Builds go to
# $CARGO_TARGET_DIR/fuzz when set (sanitizer flags would otherwise rebuild
# the normal build), else fuzz/target. Inputs the fuzzer finds accumulate
# there too; fuzz/corpus/<target>/ holds only the small committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(route_matching rest_api)
fi

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

target_dir="${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}"
target_dir="${target_dir:-$PWD/fuzz/target}"
dirs=(--target-dir "$target_dir")

echo "== cargo fuzz build (${targets[*]})" >&2
for target in "${targets[@]}"; do
    cargo fuzz build "${dirs[@]}" "$target"
done

failed=()
for target in "${targets[@]}"; do
    found="$target_dir/corpus/$target"
    mkdir -p "$found"
    echo "== fuzzing $target for ${seconds}s" >&2
    # New inputs go to the first directory; the seeds stay untouched.
    if ! cargo fuzz run "${dirs[@]}" "$target" "$found" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -dict="fuzz/dict/$target.dict" -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "== fuzzing found crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "== fuzzing clean: ${targets[*]}, ${seconds}s each" >&2
