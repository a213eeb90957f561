#!/usr/bin/env bash
# Idempotent machine set-up for running and testing ferrohub.
#
# Installs what the hub and its tests need and is fast when everything is
# already present:
#   - libpam0g-dev (the hub links libpam for PAMAuthenticator) and chromium
#     (/usr/bin/chromium, for the real-browser page tests), without recommends
#   - configurable-http-proxy 5.3.0 from npm in $FERROHUB_CHP (the proxy
#     conformance suite and benchmarks compare ferrohub-proxy with it)
#   - a Python virtualenv with jupyterhub==6.1.1 (jupyterhub-singleuser),
#     jupyterlab and jupyterhub-idle-culler, built from Debian's /usr/bin/python3
#     and placed where every local user can execute it (pyenv's python under
#     /root is mode 700)
#   - playwright-core 1.65.1 from npm in $FERROHUB_BROWSER, which the browser
#     tests (crates/cli/tests/browser/*.mjs) drive /usr/bin/chromium with (it
#     downloads no browser of its own), and axe-core 4.14.1 beside it, the
#     accessibility checker those tests run inside each page
#   - oidc-provider 9.13.3 from npm in $FERROHUB_OIDC, the OpenID Connect
#     provider that crates/cli/tests/idp/oidc_provider.mjs serves for the
#     OAuth/OIDC authenticator tests
#   - slapd and ldap-utils (OpenLDAP), answered non-interactively with a
#     debconf preseed; the LDAP tests start a private slapd with their own
#     config and database, so the system one installed here is stopped
#   - slurm-wlm and munge (Debian), a one-node Slurm cluster configuration for
#     this host in /etc/slurm/slurm.conf, and batchspawner 1.3.0 in the
#     virtualenv (its batchspawner-singleuser wrapper), for the SlurmSpawner
#     tests, whose fixture starts the daemons
#   - docker.io and runc (Debian's Docker engine, for DockerSpawner; the tests
#     run their own dockerd) and the single-user image for it: a root file
#     system of Debian's Python and the virtualenv above, as a tarball in
#     $FERROHUB_DOCKER_DIR that the tests `docker import`
#     (scripts/singleuser-image.sh; rebuilt only when its recipe changes)
#   - sudo (Debian) and sudospawner 1.0.0 in the virtualenv (its Python
#     `sudospawner` mediator, beside jupyterhub-singleuser), for the non-root
#     hub tests (crates/cli/tests/nonroot_hub.rs), which write their own
#     sudoers drop-in and helper rules and remove them afterwards
#   - mariadb-server (Debian's MariaDB), for the MySQL/MariaDB store tests and
#     the database-outage tests, which start private servers of their own
#     (mariadb-install-db into a temp dir); nothing is started here; and
#     PyMySQL 1.2.4 in the virtualenv, with which upstream's models create
#     the MySQL schema ferrohub's is compared with
#   - psycopg 3 in the virtualenv, with which upstream JupyterHub opens
#     PostgreSQL in the two-way compatibility tests
#   - JupyterHub 5.4.6 in a virtualenv of its own (venv-jupyterhub5 beside
#     the main one), with psycopg 3, with which the upgrade tests make a 5.x
#     database on SQLite and PostgreSQL (crates/cli/tests/upstream_database.rs)
#   - nginx, apache2, curl and openssl (Debian), for the reverse-proxy and TLS
#     tests (crates/cli/tests/reverse_proxies.rs, tls_and_addresses.rs), which
#     run nginx and Apache in the foreground with their own configuration in a
#     temp dir; the system services the packages install are stopped here
#   - cargo-deny 0.20.2 (`cargo install --locked`), which scripts/lint.sh runs
#     for licences, duplicate versions, sources and advisories (deny.toml)
#
# Environment:
#   FERROHUB_VENV   where the virtualenv goes (default /opt/ferrohub/venv)
#   FERROHUB_CHP    where configurable-http-proxy goes (default /opt/ferrohub/chp;
#                   the program is $FERROHUB_CHP/node_modules/.bin/configurable-http-proxy)
#   FERROHUB_BROWSER where playwright-core goes (default /opt/ferrohub/browser;
#                   the module is $FERROHUB_BROWSER/node_modules/playwright-core)
#   FERROHUB_OIDC   where oidc-provider goes (default /opt/ferrohub/oidc;
#                   the module is $FERROHUB_OIDC/node_modules/oidc-provider)
#   FERROHUB_DOCKER_DIR where the single-user image tarball goes (default
#                   /opt/ferrohub/docker; singleuser.env there names it)
set -euo pipefail

VENV="${FERROHUB_VENV:-/opt/ferrohub/venv}"
CHP_DIR="${FERROHUB_CHP:-/opt/ferrohub/chp}"
CHP_VERSION="5.3.0"
BROWSER_DIR="${FERROHUB_BROWSER:-/opt/ferrohub/browser}"
PLAYWRIGHT_VERSION="1.65.1"
AXE_CORE_VERSION="4.14.1"
OIDC_DIR="${FERROHUB_OIDC:-/opt/ferrohub/oidc}"
OIDC_PROVIDER_VERSION="9.13.3"
JUPYTERHUB_VERSION="6.1.1"
CARGO_DENY_VERSION="0.20.2"
DOCKER_DIR="${FERROHUB_DOCKER_DIR:-/opt/ferrohub/docker}"
IDLE_CULLER_VERSION="2.0.0"
BATCHSPAWNER_VERSION="1.3.0"
SUDOSPAWNER_VERSION="1.0.0"
# A 5.x release, for the upgrade-from-5.x tests (every 5.x has the same schema).
JUPYTERHUB5_VERSION="5.4.6"
PYMYSQL_VERSION="1.2.4"
PSYCOPG_VERSION="3.3.9"
APT_PACKAGES=(libpam0g-dev chromium sudo)
# SystemdSpawner tests: systemd (and systemd-run, systemctl) that the tests
# start as PID 1 of namespaces of their own (crates/cli/tests/support/systemd.rs).
APT_PACKAGES+=(systemd)
# MySQL/MariaDB store and outage tests (crates/store/tests/support/mysql.rs).
APT_PACKAGES+=(mariadb-server)
# Reverse proxies in front of the hub, and the TLS tests' certificate tool and
# HTTP/2 client.
APT_PACKAGES+=(nginx apache2 curl openssl)

log() { printf 'setup: %s\n' "$*" >&2; }

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages ${need_apt[*]}; run this script as root"
        exit 1
    fi
    log "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${need_apt[@]}" >/dev/null
    # The packages may start the system nginx/Apache (ports 80/443); the tests
    # run their own instances, so stop the system ones.
    for service in nginx apache2; do
        if [[ -x /etc/init.d/$service ]]; then
            /etc/init.d/$service stop >/dev/null 2>&1 || true
        fi
    done
fi

marker="$VENV/.ferrohub-ready-$JUPYTERHUB_VERSION"
if [[ ! -f "$marker" ]]; then
    log "creating the single-user virtualenv in $VENV (a few minutes the first time)"
    mkdir -p "$(dirname "$VENV")"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "jupyterhub==$JUPYTERHUB_VERSION" jupyterlab
    chmod -R a+rX "$VENV"
    chmod a+rx "$(dirname "$VENV")"
    touch "$marker"
fi
culler_marker="$VENV/.ferrohub-culler-$IDLE_CULLER_VERSION"
if [[ ! -f "$culler_marker" ]]; then
    log "installing jupyterhub-idle-culler $IDLE_CULLER_VERSION into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "jupyterhub-idle-culler==$IDLE_CULLER_VERSION"
    chmod -R a+rX "$VENV"
    touch "$culler_marker"
fi
chp_marker="$CHP_DIR/.ferrohub-chp-$CHP_VERSION"
if [[ ! -f "$chp_marker" ]]; then
    if ! command -v npm >/dev/null; then
        log "npm is missing: install Node.js (Debian package nodejs/npm) for configurable-http-proxy"
        exit 1
    fi
    log "installing configurable-http-proxy $CHP_VERSION into $CHP_DIR"
    mkdir -p "$CHP_DIR"
    npm install --prefix "$CHP_DIR" --no-audit --no-fund --loglevel=error \
        "configurable-http-proxy@$CHP_VERSION" >/dev/null
    chmod -R a+rX "$CHP_DIR"
    touch "$chp_marker"
fi
browser_marker="$BROWSER_DIR/.ferrohub-playwright-$PLAYWRIGHT_VERSION-axe-$AXE_CORE_VERSION"
if [[ ! -f "$browser_marker" ]]; then
    if ! command -v npm >/dev/null; then
        log "npm is missing: install Node.js (Debian package nodejs/npm) for playwright-core"
        exit 1
    fi
    log "installing playwright-core $PLAYWRIGHT_VERSION and axe-core $AXE_CORE_VERSION into $BROWSER_DIR"
    mkdir -p "$BROWSER_DIR"
    # playwright-core never downloads browsers; the tests use /usr/bin/chromium.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$BROWSER_DIR" \
        --no-audit --no-fund --loglevel=error \
        "playwright-core@$PLAYWRIGHT_VERSION" "axe-core@$AXE_CORE_VERSION" >/dev/null
    chmod -R a+rX "$BROWSER_DIR"
    touch "$browser_marker"
fi
oidc_marker="$OIDC_DIR/.ferrohub-oidc-provider-$OIDC_PROVIDER_VERSION"
if [[ ! -f "$oidc_marker" ]]; then
    if ! command -v npm >/dev/null; then
        log "npm is missing: install Node.js (Debian package nodejs/npm) for oidc-provider"
        exit 1
    fi
    log "installing oidc-provider $OIDC_PROVIDER_VERSION into $OIDC_DIR"
    mkdir -p "$OIDC_DIR"
    npm install --prefix "$OIDC_DIR" --no-audit --no-fund --loglevel=error \
        "oidc-provider@$OIDC_PROVIDER_VERSION" >/dev/null
    chmod -R a+rX "$OIDC_DIR"
    touch "$oidc_marker"
fi
# OpenLDAP: slapd asks for a domain and an admin password while installing;
# the preseed answers (the tests never use this system instance).
need_ldap=()
for pkg in slapd ldap-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_ldap+=("$pkg")
done
if ((${#need_ldap[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages ${need_ldap[*]}; run this script as root"
        exit 1
    fi
    log "installing ${need_ldap[*]}"
    debconf-set-selections <<'PRESEED'
slapd slapd/no_configuration boolean false
slapd slapd/domain string example.org
slapd shared/organization string Example
slapd slapd/password1 password adminpw
slapd slapd/password2 password adminpw
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
PRESEED
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${need_ldap[@]}" >/dev/null
    # The package starts the system slapd on port 389; the tests run their own.
    if [[ -x /etc/init.d/slapd ]]; then
        /etc/init.d/slapd stop >/dev/null 2>&1 || true
    fi
fi
# Slurm and munge (SlurmSpawner tests): Debian's slurm-wlm and munge, and a
# one-node cluster configuration for this host in /etc/slurm/slurm.conf
# (NodeName and SlurmctldHost are `hostname -s`; proctrack/linuxproc and
# task/none, no cgroups, no accounting; SlurmUser=root, so slurmctld keeps
# the credentials it was started with and dies with the test process that
# started it). Nothing is started here: the tests' fixture
# (crates/cli/tests/support/slurm.rs) runs munged, slurmctld and slurmd in
# the foreground and stops them when the tests end.
need_slurm=()
for pkg in slurm-wlm munge; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_slurm+=("$pkg")
done
if ((${#need_slurm[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages ${need_slurm[*]}; run this script as root"
        exit 1
    fi
    log "installing ${need_slurm[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${need_slurm[@]}" >/dev/null
fi
slurm_host="$(hostname -s)"
slurm_conf=/etc/slurm/slurm.conf
if ! grep -qx "NodeName=$slurm_host NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN" "$slurm_conf" 2>/dev/null \
    || ! grep -qx "SlurmUser=root" "$slurm_conf"; then
    if [[ $(id -u) -ne 0 ]]; then
        log "no Slurm configuration for this host in $slurm_conf; run this script as root"
        exit 1
    fi
    log "writing $slurm_conf (one-node cluster on $slurm_host)"
    mkdir -p /etc/slurm
    cat >"$slurm_conf" <<SLURM
# Written by ferrohub's scripts/setup.sh: a one-node Slurm cluster on this
# host for the SlurmSpawner tests; no systemd, no cgroups, no accounting.
ClusterName=ferrohub
SlurmctldHost=$slurm_host(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$slurm_host NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$slurm_host Default=YES MaxTime=INFINITE State=UP
SLURM
fi
if [[ $(id -u) -eq 0 ]]; then
    mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/slurm /run/munge
    chown munge:munge /run/munge
fi
batchspawner_marker="$VENV/.ferrohub-batchspawner-$BATCHSPAWNER_VERSION"
if [[ ! -f "$batchspawner_marker" ]]; then
    log "installing batchspawner $BATCHSPAWNER_VERSION into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "batchspawner==$BATCHSPAWNER_VERSION"
    chmod -R a+rX "$VENV"
    touch "$batchspawner_marker"
fi
# JupyterHub 5.x in a virtualenv of its own: the upgrade tests make a 5.x
# database with it (alembic head 4621fec11365, shared by every 5.x release).
JH5_VENV="$(dirname "$VENV")/venv-jupyterhub5"
jh5_marker="$JH5_VENV/.ferrohub-ready-$JUPYTERHUB5_VERSION"
if [[ ! -f "$jh5_marker" ]]; then
    log "creating a JupyterHub $JUPYTERHUB5_VERSION virtualenv in $JH5_VENV"
    /usr/bin/python3 -m venv "$JH5_VENV"
    "$JH5_VENV/bin/pip" install -q --disable-pip-version-check \
        "jupyterhub==$JUPYTERHUB5_VERSION"
    chmod -R a+rX "$JH5_VENV"
    touch "$jh5_marker"
fi
# psycopg 3 there too, so the upgrade test makes its 5.x database on
# PostgreSQL as well (postgresql+psycopg:// URLs).
jh5_psycopg_marker="$JH5_VENV/.ferrohub-psycopg-$PSYCOPG_VERSION"
if [[ ! -f "$jh5_psycopg_marker" ]]; then
    log "installing psycopg $PSYCOPG_VERSION into $JH5_VENV"
    "$JH5_VENV/bin/pip" install -q --disable-pip-version-check \
        "psycopg[binary]==$PSYCOPG_VERSION"
    chmod -R a+rX "$JH5_VENV"
    touch "$jh5_psycopg_marker"
fi
# PyMySQL, so upstream's own models can create its MySQL schema for the
# store's comparison test (crates/store/tests/upstream_mysql_schema.rs).
pymysql_marker="$VENV/.ferrohub-pymysql-$PYMYSQL_VERSION"
if [[ ! -f "$pymysql_marker" ]]; then
    log "installing PyMySQL $PYMYSQL_VERSION into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "pymysql==$PYMYSQL_VERSION"
    chmod -R a+rX "$VENV"
    touch "$pymysql_marker"
fi
# psycopg 3 (SQLAlchemy's driver for postgresql:// URLs under JupyterHub 6),
# so upstream can open PostgreSQL in the two-way compatibility tests
# (crates/cli/tests/upstream_database.rs).
psycopg_marker="$VENV/.ferrohub-psycopg-$PSYCOPG_VERSION"
if [[ ! -f "$psycopg_marker" ]]; then
    log "installing psycopg $PSYCOPG_VERSION into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "psycopg[binary]==$PSYCOPG_VERSION"
    chmod -R a+rX "$VENV"
    touch "$psycopg_marker"
fi
sudospawner_marker="$VENV/.ferrohub-sudospawner-$SUDOSPAWNER_VERSION"
if [[ ! -f "$sudospawner_marker" ]]; then
    log "installing sudospawner $SUDOSPAWNER_VERSION into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check \
        "sudospawner==$SUDOSPAWNER_VERSION"
    chmod -R a+rX "$VENV"
    touch "$sudospawner_marker"
fi
# Docker engine for DockerSpawner and its tests: Debian's docker.io (dockerd,
# the CLI) and runc. The tests start their own dockerd on a private socket
# (crates/cli/tests/support/docker.rs); the system one is never started.
need_docker=()
for pkg in docker.io runc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_docker+=("$pkg")
done
if ((${#need_docker[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages ${need_docker[*]}; run this script as root"
        exit 1
    fi
    log "installing ${need_docker[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
        "${need_docker[@]}" >/dev/null
fi
# The single-user image for DockerSpawner, without a registry: a root file
# system of Debian's Python and the virtualenv above, as a tarball the tests
# `docker import` (rebuilt only when its recipe changes; seconds).
bash "$(dirname "${BASH_SOURCE[0]}")/singleuser-image.sh" "$VENV" "$DOCKER_DIR"
# The base the hub image test builds the Dockerfile on (a stand-in for
# debian:bookworm-slim, from this machine's packages; seconds).
bash "$(dirname "${BASH_SOURCE[0]}")/hub-base-image.sh" "$DOCKER_DIR"
# cargo-deny: the pinned version, installed once. Another version already
# on the PATH is kept (installing needs the network) with a note, since a
# different release may read deny.toml differently.
installed_deny="$(cargo deny --version 2>/dev/null | awk '{print $2}' || true)"
if [[ -z "$installed_deny" ]]; then
    log "installing cargo-deny $CARGO_DENY_VERSION (a few minutes the first time)"
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
elif [[ "$installed_deny" != "$CARGO_DENY_VERSION" ]]; then
    log "cargo-deny $installed_deny is installed; scripts/lint.sh is tested with $CARGO_DENY_VERSION"
fi
log "ready: $("$VENV/bin/jupyterhub-singleuser" --version 2>/dev/null | tail -1) in $VENV"
