#!/usr/bin/env bash
# REST API benchmark: ferrohub against upstream JupyterHub 6.1.1, same run,
# same machine, both on SQLite, both talked to directly on their hub port.
#
#   bench/api/run.sh                      # defaults: 10,000 users, 3 x 10 s per scenario
#   bench/api/run.sh --runs 5 --duration 15 --output /tmp/api-bench.md
#   bench/api/run.sh --rev HEAD           # benchmark a commit, not the working tree
#   bench/api/run.sh --help               # every option (see bench.py)
#
# What it does:
#   1. builds ferrohub and ferrohub-proxy in release mode (CARGO_TARGET_DIR is
#      honoured; the target directory is asked of cargo itself): the working tree,
#      or with --rev REV that commit, exported with `git archive` to
#      $TMPDIR/ferrohub-bench-src (the work tree is not touched; dependencies are
#      shared through the same target directory, the two binaries are copied out);
#   2. installs wrk from Debian if it is missing, and the upstream virtualenv
#      (scripts/setup.sh) if /opt/ferrohub/venv has no jupyterhub;
#   3. runs bench/api/bench.py, which starts both hubs in temporary directories on
#      free loopback ports, creates the users, runs the scenarios with wrk and
#      prints a markdown table (also written to --output if given).
#
# Environment:
#   FERROHUB_VENV   virtualenv with jupyterhub 6.1.1 (default /opt/ferrohub/venv)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for arg in "$@"; do
    if [[ "$arg" == -h || "$arg" == --help ]]; then
        echo "usage: $0 [--rev REV] [bench.py options]"
        exec python3 "$here/bench.py" --help
    fi
done
repo="$(cd "$here/../.." && pwd)"
venv="${FERROHUB_VENV:-/opt/ferrohub/venv}"

log() { printf 'bench: %s\n' "$*" >&2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v wrk >/dev/null; then
    log "installing wrk (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq wrk >/dev/null
fi
command -v taskset >/dev/null || log "no taskset: hub and load generator will not be pinned"

if [[ ! -x "$venv/bin/jupyterhub" ]]; then
    log "no jupyterhub in $venv; running scripts/setup.sh"
    FERROHUB_VENV="$venv" "$repo/scripts/setup.sh"
fi

bench_pid=""
cleanup() {
    # bench.py stops every process it started (the hubs, and through them their
    # proxies) when it gets SIGTERM; wait for it to finish doing so.
    if [[ -n "$bench_pid" ]]; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        wait "$bench_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rev=""
args=()
while (($#)); do
    case "$1" in
        --rev) rev="$2"; shift 2 ;;
        --rev=*) rev="${1#--rev=}"; shift ;;
        *) args+=("$1"); shift ;;
    esac
done

cd "$repo"
target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
if [[ -z "$rev" ]]; then
    log "building ferrohub (release) from the working tree"
    cargo build --release --quiet -p ferrohub -p ferrohub-proxy --bins
    bin_dir="$target_dir/release"
    changed="$(git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock | wc -l)"
    label="working tree at $(git rev-parse --short HEAD), $changed tracked files modified"
else
    commit="$(git rev-parse --verify "$rev^{commit}")"
    # A fixed place, so that cargo finds its previous build of the same sources
    # (git archive gives files the commit's time) and rebuilds only what changed.
    export_dir="${TMPDIR:-/tmp}/ferrohub-bench-src"
    log "building ferrohub (release) from commit ${commit:0:12} in $export_dir"
    rm -rf "$export_dir"
    mkdir -p "$export_dir"
    git archive "$commit" | tar -x -C "$export_dir/"
    mkdir -p "$export_dir/bin"
    (cd "$export_dir" && CARGO_TARGET_DIR="$target_dir" \
        cargo build --release --quiet -p ferrohub -p ferrohub-proxy --bins)
    cp "$target_dir/release/ferrohub" "$target_dir/release/ferrohub-proxy" "$export_dir/bin/"
    bin_dir="$export_dir/bin"
    label="commit ${commit:0:12}"
fi

python3 "$here/bench.py" \
    --ferrohub "$bin_dir/ferrohub" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --ferrohub-label "$label" \
    --jupyterhub "$venv/bin/jupyterhub" \
    "${args[@]}" &
bench_pid=$!
wait "$bench_pid" && status=0 || status=$?
bench_pid=""
exit "$status"
