#!/usr/bin/env bash
# A real kernel's websocket output through ferrohub-proxy and straight from
# the notebook server (issue 16): 200,000 printed lines and a 5 MB image.
#
#   bench/proxy/kernel_ws.sh                  # 5 rounds
#   bench/proxy/kernel_ws.sh --rounds 9 --output /tmp/kernel.md
#   bench/proxy/kernel_ws.sh --rev HEAD~1     # the proxy and hub of a commit
#
# Builds ferrohub and ferrohub-proxy (release), uses the virtualenv of
# scripts/setup.sh for the server and a virtualenv with websockets 17
# ($FERROHUB_BENCH_VENV) for the client. Run nothing else meanwhile.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
for arg in "$@"; do
    if [[ "$arg" == -h || "$arg" == --help ]]; then
        exec python3 "$here/kernel_ws.py" --help
    fi
done
venv="${FERROHUB_VENV:-/opt/ferrohub/venv}"
[[ -x "$venv/bin/jupyterhub-singleuser" ]] || "$repo/scripts/setup.sh"
bench_venv="${FERROHUB_BENCH_VENV:-/opt/ferrohub/bench-venv}"
if ! "$bench_venv/bin/python" -c 'import websockets, sys; sys.exit(websockets.version.version.split(".")[0] != "17")' 2>/dev/null; then
    log "making $bench_venv with websockets 17"
    python3 -m venv "$bench_venv"
    "$bench_venv/bin/pip" install --quiet "websockets>=17,<18"
fi

bench_parse_args "$@"
bench_build "$repo"
bench_run "$bench_venv/bin/python" "$here/kernel_ws.py" \
    --ferrohub-hub "$bin_dir/ferrohub" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --venv "$venv" \
    "${bench_args[@]}"
