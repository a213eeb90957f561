#!/usr/bin/env bash
# Spawn benchmark (issue 14): 20 concurrent spawns on each engine
# (LocalProcessSpawner, DockerSpawner, SlurmSpawner), request-to-ready time
# split into engine time and hub time, and the hub's own CPU per spawn.
#
#   bench/spawn/run.sh                          # 20 spawns per engine, every engine
#   bench/spawn/run.sh --spawns 3 --only local  # a short run
#   bench/spawn/run.sh --only docker,slurm      # some engines only
#   bench/spawn/run.sh --output /tmp/spawn.md   # also write the report there
#   bench/spawn/run.sh --rev HEAD               # benchmark a commit, not the working tree
#   bench/spawn/run.sh --help                   # every option (see bench.py)
#
# What it does:
#   1. builds ferrohub and ferrohub-proxy in release mode (bench/lib.sh);
#   2. runs bench/spawn/bench.py, which for each engine starts what it needs
#      (local users; a private dockerd with the single-user image of
#      scripts/singleuser-image.sh; the one-node Slurm cluster of
#      scripts/setup.sh, if it is not up) and a hub, asks for every server at
#      once, follows their progress streams, stops them, removes what it made
#      and prints a markdown table (also written to --output if given).
#
# Run as root, after scripts/setup.sh (the virtualenv, dockerd, the image
# tarball, Slurm): LocalProcessSpawner and Slurm run the servers as the
# throwaway users the bench creates (and removes), and dockerd needs root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_help_if_asked "$@"

bench_parse_args "$@"
bench_build "$repo"
bench_run python3 "$here/bench.py" \
    --ferrohub "$bin_dir/ferrohub" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --ferrohub-label "$label" \
    "${bench_args[@]}"
