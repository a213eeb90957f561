#!/usr/bin/env bash
# The whole test suite: machine set-up, formatting and lint checks, then every
# test (unit, integration, end-to-end with real jupyterhub-singleuser, PAM and
# PostgreSQL, headless Chromium, real configurable-http-proxy), then a
# bounded fuzzing run of the proxy. Reuses $CARGO_TARGET_DIR when set, so
# repeated runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export FERROHUB_VENV="${FERROHUB_VENV:-/opt/ferrohub/venv}"

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo nextest" >&2
# Build every binary first: end-to-end tests run target/*/ferrohub and ferrohub-proxy.
cargo build --workspace --bins --locked
cargo nextest run --workspace --locked "$@"
# Bounded fuzzing of the proxy's route matching and REST API (fuzz/):
# FERROHUB_FUZZ_SECONDS per target, 0 to skip (first run also builds
# cargo-fuzz and the sanitizer build, a few minutes).
fuzz_seconds="${FERROHUB_FUZZ_SECONDS:-20}"
if [[ "$fuzz_seconds" != 0 ]]; then
    echo "== fuzzing, ${fuzz_seconds}s per target" >&2
    bash scripts/fuzz.sh "$fuzz_seconds"
fi
