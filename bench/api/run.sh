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
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_help_if_asked "$@"
venv="${FERROHUB_VENV:-/opt/ferrohub/venv}"

bench_require wrk:wrk
command -v taskset >/dev/null || log "no taskset: hub and load generator will not be pinned"

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
