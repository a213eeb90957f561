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
#   1. builds ferrohub-proxy and the hub (which spawns the real notebook
#      server measured at the end) in release mode, from the working tree or
#      with --rev REV from that commit (see bench_build in bench/lib.sh);
#   2. builds the helper bench/proxy/wsbench (`proxybench`: the backend, the
#      websocket load client, the route-table client) from the working tree,
#      into <target dir>/bench-proxy; it is its own Cargo project, not a
#      workspace member, on the workspace's crate versions;
#   3. installs what is missing: wrk and nginx (the reference proxy) from
#      Debian, configurable-http-proxy and the virtualenv with
#      jupyterhub-singleuser by scripts/setup.sh;
#   4. runs bench/proxy/bench.py, which starts the backend, ferrohub with one
#      real notebook server, both proxies and nginx on free loopback ports,
#      measures, prints markdown tables (also written to
#      --output if given) and stops everything it started.
#
# Environment:
#   FERROHUB_CHP   where configurable-http-proxy is installed (default
#                  /opt/ferrohub/chp; the program is node_modules/.bin/configurable-http-proxy)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_help_if_asked "$@"
chp_dir="${FERROHUB_CHP:-/opt/ferrohub/chp}"
chp="$chp_dir/node_modules/.bin/configurable-http-proxy"

bench_require wrk:wrk nginx:nginx-light
command -v taskset >/dev/null || log "no taskset: proxies and load generator will not be pinned"

venv="${FERROHUB_VENV:-/opt/ferrohub/venv}"
if [[ ! -x "$chp" || ! -x "$venv/bin/jupyterhub-singleuser" ]]; then
    log "no configurable-http-proxy in $chp_dir or no virtualenv in $venv; running scripts/setup.sh"
    FERROHUB_CHP="$chp_dir" "$repo/scripts/setup.sh"
fi

# 1,000 websockets held open through a proxy take 2,000 descriptors in it.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_parse_args "$@"
bench_build "$repo"

log "building bench/proxy/wsbench (release)"
CARGO_TARGET_DIR="$target_dir/bench-proxy" \
    cargo build --release --quiet --locked --manifest-path "$here/wsbench/Cargo.toml"

bench_run python3 "$here/bench.py" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --ferrohub-hub "$bin_dir/ferrohub" \
    --ferrohub-label "$label" \
    --chp "$chp" \
    --proxybench "$target_dir/bench-proxy/release/proxybench" \
    --venv "$venv" \
    "${bench_args[@]}"
