#!/usr/bin/env bash
# Websocket relay with the Python `websockets` package on both ends
# (issue 16's measure): direct vs ferrohub-proxy vs configurable-http-proxy
# vs nginx, client and echo server on CPU 0, each proxy pinned to CPU 1.
#
#   bench/proxy/ws_python.sh                       # 5 rounds x 5 s per cell
#   bench/proxy/ws_python.sh --rounds 7 --output /tmp/ws.md
#   bench/proxy/ws_python.sh --rev HEAD~3          # the proxy of a commit
#   bench/proxy/ws_python.sh --only direct,ferrohub --rounds 1 --duration 2   # quick try
#
# Builds ferrohub-proxy (release), makes a virtualenv with websockets 17
# ($FERROHUB_BENCH_VENV, default /opt/ferrohub/bench-venv), uses CHP from
# scripts/setup.sh and Debian's nginx. Run nothing else meanwhile.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
for arg in "$@"; do
    if [[ "$arg" == -h || "$arg" == --help ]]; then
        exec python3 "$here/ws_python.py" --help
    fi
done
chp_dir="${FERROHUB_CHP:-/opt/ferrohub/chp}"
chp="$chp_dir/node_modules/.bin/configurable-http-proxy"
bench_require nginx:nginx-light taskset:util-linux
if [[ ! -x "$chp" ]]; then
    log "no configurable-http-proxy in $chp_dir; running scripts/setup.sh"
    FERROHUB_CHP="$chp_dir" "$repo/scripts/setup.sh"
fi
venv="${FERROHUB_BENCH_VENV:-/opt/ferrohub/bench-venv}"
if ! "$venv/bin/python" -c 'import websockets, sys; sys.exit(websockets.version.version.split(".")[0] != "17")' 2>/dev/null; then
    log "making $venv with websockets 17"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "websockets>=17,<18"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_parse_args "$@"
bench_build "$repo"
bench_run python3 "$here/ws_python.py" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --chp "$chp" \
    --python "$venv/bin/python" \
    "${bench_args[@]}"
