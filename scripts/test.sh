#!/usr/bin/env bash
# The whole test suite: machine set-up, static checks (scripts/lint.sh:
# formatting, clippy, cargo deny), then every test (unit, integration,
# end-to-end with real jupyterhub-singleuser, PAM and PostgreSQL, headless
# Chromium, real configurable-http-proxy), then a bounded fuzzing run of the
# proxy. Reuses $CARGO_TARGET_DIR when set, so
# repeated runs are fast.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
export FERROHUB_VENV="${FERROHUB_VENV:-/opt/ferrohub/venv}"
# The suite compiles each workspace crate once per change; incremental
# compilation data only grows in a reused target directory (25 GB of it had
# filled the disk of a shared cache). Set CARGO_INCREMENTAL=1 to keep it.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Formatting, clippy and cargo deny (licences, duplicates, sources,
# advisories when a local database exists).
bash scripts/lint.sh
echo "== cargo nextest" >&2
# No separate `cargo build --bins`: building the workspace's tests also builds
# and places target/*/ferrohub and target/*/ferrohub-proxy (every package with
# integration tests gets its binaries built, CARGO_BIN_EXE_*), and those are
# the ones the end-to-end tests run. A build before it was compiled with
# other features (the test build unifies dev-dependency features, e.g. the
# hub's `testing`) and was then rebuilt and overwritten here.
cargo nextest run --workspace --locked "$@"
# Bounded fuzzing of the proxy's route matching and REST API (fuzz/):
# FERROHUB_FUZZ_SECONDS per target, 0 to skip (first run also builds
# cargo-fuzz and the sanitizer build, a few minutes).
fuzz_seconds="${FERROHUB_FUZZ_SECONDS:-20}"
if [[ "$fuzz_seconds" != 0 ]]; then
    echo "== fuzzing, ${fuzz_seconds}s per target" >&2
    bash scripts/fuzz.sh "$fuzz_seconds"
fi
