#!/usr/bin/env bash
# Unloaded added latency of plain HTTP (issue 16's measure): wrk with one
# connection and an nginx backend on CPU 0; direct vs ferrohub-proxy (also
# with --busy-poll=300) vs configurable-http-proxy vs nginx, each pinned to
# CPU 1, in interleaved rounds.
#
#   bench/proxy/latency.sh                          # 7 rounds x 4 s per way
#   bench/proxy/latency.sh --rounds 9 --output /tmp/latency.md
#   bench/proxy/latency.sh --rev HEAD~3             # the proxy of a commit
#
# Builds ferrohub-proxy (release), uses CHP from scripts/setup.sh, Debian's
# nginx and wrk. Run nothing else meanwhile.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
for arg in "$@"; do
    if [[ "$arg" == -h || "$arg" == --help ]]; then
        exec python3 "$here/latency.py" --help
    fi
done
chp_dir="${FERROHUB_CHP:-/opt/ferrohub/chp}"
chp="$chp_dir/node_modules/.bin/configurable-http-proxy"
bench_require nginx:nginx-light taskset:util-linux wrk:wrk
if [[ ! -x "$chp" ]]; then
    log "no configurable-http-proxy in $chp_dir; running scripts/setup.sh"
    FERROHUB_CHP="$chp_dir" "$repo/scripts/setup.sh"
fi

bench_parse_args "$@"
bench_build "$repo"
bench_run python3 "$here/latency.py" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --chp "$chp" \
    --variant "busy-poll 300=$bin_dir/ferrohub-proxy;--busy-poll=300" \
    "${bench_args[@]}"
