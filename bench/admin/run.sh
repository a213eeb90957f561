#!/usr/bin/env bash
# Admin page benchmark: the hub time of /hub/admin's first page (the HTML and
# the first users request its script makes) with 10,000 users, ferrohub
# against upstream JupyterHub 6.1.1, same run, same machine, both on SQLite,
# both talked to directly on their hub port.
#
#   bench/admin/run.sh                    # defaults: 10,000 users, 10 visits per hub
#   bench/admin/run.sh --runs 5 --output /tmp/admin-bench.md
#   bench/admin/run.sh --rev HEAD         # benchmark a commit, not the working tree
#   bench/admin/run.sh --help             # every option (see bench.py)
#
# What it does:
#   1. builds ferrohub and ferrohub-proxy in release mode (bench/lib.sh, as
#      bench/api/run.sh);
#   2. installs the upstream virtualenv (scripts/setup.sh) if /opt/ferrohub/venv
#      has no jupyterhub;
#   3. runs bench/admin/bench.py, which starts both hubs (bench/api/bench.py's
#      set-up), creates the users, signs the admin in to each, times the visits
#      and prints a markdown table (also written to --output if given).
#
# Environment:
#   FERROHUB_VENV   virtualenv with jupyterhub 6.1.1 (default /opt/ferrohub/venv)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_help_if_asked "$@"
venv="${FERROHUB_VENV:-/opt/ferrohub/venv}"

command -v taskset >/dev/null || log "no taskset: the hubs will not be pinned"

if [[ ! -x "$venv/bin/jupyterhub" ]]; then
    log "no jupyterhub in $venv; running scripts/setup.sh"
    FERROHUB_VENV="$venv" "$repo/scripts/setup.sh"
fi

bench_parse_args "$@"
bench_build "$repo"
bench_run python3 "$here/bench.py" \
    --ferrohub "$bin_dir/ferrohub" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --ferrohub-label "$label" \
    --jupyterhub "$venv/bin/jupyterhub" \
    "${bench_args[@]}"
