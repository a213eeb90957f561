#!/usr/bin/env bash
# Idempotent machine set-up for running and testing ferrohub.
#
# Installs what the hub and its tests need and is fast when everything is
# already present:
#   - libpam0g-dev (the hub links libpam for PAMAuthenticator)
#   - a Python virtualenv with jupyterhub==6.1.1 (jupyterhub-singleuser),
#     jupyterlab and jupyterhub-idle-culler, built from Debian's /usr/bin/python3
#     and placed where every local user can execute it (pyenv's python under
#     /root is mode 700)
#
# Environment:
#   FERROHUB_VENV   where the virtualenv goes (default /opt/ferrohub/venv)
set -euo pipefail

VENV="${FERROHUB_VENV:-/opt/ferrohub/venv}"
JUPYTERHUB_VERSION="6.1.1"
IDLE_CULLER_VERSION="2.0.0"
APT_PACKAGES=(libpam0g-dev)

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
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need_apt[@]}" >/dev/null
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
log "ready: $("$VENV/bin/jupyterhub-singleuser" --version 2>/dev/null | tail -1) in $VENV"
