#!/usr/bin/env bash
# Failed-login benchmark (issue 13): a flood of failed logins against each
# authenticator (PAM, dummy, shared password, LDAP, OAuth) must leave the hub
# answering /hub/health within 50 ms at p99.
#
#   bench/login-failures/run.sh                      # 1000 failures per authenticator, 8 clients
#   bench/login-failures/run.sh --attempts 100       # a short run
#   bench/login-failures/run.sh --only ldap,dummy    # some back ends only
#   bench/login-failures/run.sh --throttle default   # with the login throttle at its defaults
#   bench/login-failures/run.sh --rev HEAD           # benchmark a commit, not the working tree
#   bench/login-failures/run.sh --help               # every option (see bench.py)
#
# What it does:
#   1. builds ferrohub and ferrohub-proxy in release mode (bench/lib.sh);
#   2. installs slapd, ldap-utils and nodejs (Debian) if missing (oidc-provider
#      itself comes from scripts/setup.sh);
#   3. runs bench/login-failures/bench.py, which for each authenticator starts
#      what it needs (a local account for PAM, a private slapd for LDAP) and a
#      hub, sends the failures while polling /hub/health, stops everything and
#      prints a markdown table (also written to --output if given).
#
# Run as root: PAM checks another account's password only for root, and the
# bench creates (and removes) that account. PAM's failure delay (3 s in
# Debian's /etc/pam.d/login) with its 4 threads makes the PAM part slow:
# about 1.3 failures/s, so 1000 of them take over 12 minutes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib.sh
. "$here/../lib.sh"
bench_help_if_asked "$@"

bench_require slapd:slapd ldapwhoami:ldap-utils openssl:openssl node:nodejs
bench_parse_args "$@"
bench_build "$repo"
bench_run python3 "$here/bench.py" \
    --ferrohub "$bin_dir/ferrohub" \
    --ferrohub-proxy "$bin_dir/ferrohub-proxy" \
    --ferrohub-label "$label" \
    "${bench_args[@]}"
