#!/usr/bin/env bash
# Proxy benchmark: ferrohub-proxy against configurable-http-proxy 5.3.0 and
# against no proxy at all, same run, same machine, same backend.
#
#   bench/proxy/run.sh                    # defaults: 10,000 routes, 3 x 10 s per cell
#   bench/proxy/run.sh --runs 5 --duration 15 --output /tmp/proxy-bench.md
#   bench/proxy/run.sh --rev HEAD         # benchmark a commit, not the working tree
#   bench/proxy/run.sh --duration 2 --runs 1 --warmup 1   # quick try (noisy)
#   bench/proxy/run.sh --help             # every option (see bench.py)
#
# What it does:
#   1. builds ferrohub-proxy in release mode (CARGO_TARGET_DIR is honoured; the
#      target directory is asked of cargo itself): the working tree, or with
#      --rev REV that commit, exported with `git archive` to
#      $TMPDIR/ferrohub-proxy-bench-src (the work tree is not touched;
#      dependencies are shared through the same target directory, the binary is
#      copied out);
#   2. builds the helper bench/proxy/wsbench (`proxybench`: the backend, the
#      websocket load client, the route-table client) from the working tree,
#      into <target dir>/bench-proxy; it is its own Cargo project, not a
#      workspace member, on the workspace's crate versions;
#   3. installs wrk from Debian if it is missing, and configurable-http-proxy
#      (scripts/setup.sh) if $FERROHUB_CHP has none;
#   4. runs bench/proxy/bench.py, which starts the backend and both proxies on
#      free loopback ports, measures, prints markdown tables (also written to
#      --output if given) and stops everything it started.
#
# Environment:
#   FERROHUB_CHP   where configurable-http-proxy is installed (default
#                  /opt/ferrohub/chp; the program is node_modules/.bin/configurable-http-proxy)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for arg in "$@"; do
    if [[ "$arg" == -h || "$arg" == --help ]]; then
        echo "usage: $0 [--rev REV] [bench.py options]"
        exec python3 "$here/bench.py" --help
    fi
done
repo="$(cd "$here/../.." && pwd)"
chp_dir="${FERROHUB_CHP:-/opt/ferrohub/chp}"
chp="$chp_dir/node_modules/.bin/configurable-http-proxy"

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
command -v taskset >/dev/null || log "no taskset: proxies and load generator will not be pinned"

if [[ ! -x "$chp" ]]; then
    log "no configurable-http-proxy in $chp_dir; running scripts/setup.sh"
    FERROHUB_CHP="$chp_dir" "$repo/scripts/setup.sh"
fi

# 1,000 websockets held open through a proxy take 2,000 descriptors in it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_pid=""
cleanup() {
    # bench.py stops every process it started (backend, proxies, load
    # generators) when it gets SIGTERM; wait for it to finish doing so.
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
    log "building ferrohub-proxy (release) from the working tree"
    cargo build --release --quiet -p ferrohub-proxy --bins
    proxy_bin="$target_dir/release/ferrohub-proxy"
    changed="$(git status --porcelain --untracked-files=no -- crates/proxy Cargo.toml Cargo.lock | wc -l)"
    label="working tree at $(git rev-parse --short HEAD), $changed tracked files modified"
else
    commit="$(git rev-parse --verify "$rev^{commit}")"
    # A fixed place, so that cargo finds its previous build of the same sources
    # (git archive gives files the commit's time) and rebuilds only what changed.
    export_dir="${TMPDIR:-/tmp}/ferrohub-proxy-bench-src"
    log "building ferrohub-proxy (release) from commit ${commit:0:12} in $export_dir"
    rm -rf "$export_dir"
    mkdir -p "$export_dir"
    git archive "$commit" | tar -x -C "$export_dir/"
    mkdir -p "$export_dir/bin"
    (cd "$export_dir" && CARGO_TARGET_DIR="$target_dir" \
        cargo build --release --quiet -p ferrohub-proxy --bins)
    cp "$target_dir/release/ferrohub-proxy" "$export_dir/bin/"
    proxy_bin="$export_dir/bin/ferrohub-proxy"
    label="commit ${commit:0:12}"
fi

log "building bench/proxy/wsbench (release)"
CARGO_TARGET_DIR="$target_dir/bench-proxy" \
    cargo build --release --quiet --locked --manifest-path "$here/wsbench/Cargo.toml"
proxybench="$target_dir/bench-proxy/release/proxybench"

python3 "$here/bench.py" \
    --ferrohub-proxy "$proxy_bin" \
    --ferrohub-label "$label" \
    --chp "$chp" \
    --proxybench "$proxybench" \
    "${args[@]}" &
bench_pid=$!
wait "$bench_pid" && status=0 || status=$?
bench_pid=""
exit "$status"
