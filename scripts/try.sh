#!/usr/bin/env bash
# Builds ferrohub and runs it on a working default so a newcomer can log in
# and get JupyterLab: SQLite in ./.try/, DummyAuthenticator (any user name,
# password "ferrohub"), SimpleLocalProcessSpawner with the project's
# jupyterhub-singleuser virtualenv. Open http://127.0.0.1:8000/ afterwards.
#
# Extra arguments go to ferrohub, e.g. scripts/try.sh --JupyterHub.bind_url=http://:9000
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
VENV="${FERROHUB_VENV:-/opt/ferrohub/venv}"
cargo build --release --bins
BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/release/ferrohub"
mkdir -p .try
args='[]'
if [[ $(id -u) -eq 0 ]]; then args='["--allow-root"]'; fi
cat > .try/ferrohub.toml <<TOML
# Written by scripts/try.sh: a demo set-up, not for production.
[JupyterHub]
bind_url = "http://127.0.0.1:8000"
authenticator_class = "dummy"
spawner_class = "simple"

[DummyAuthenticator]
password = "ferrohub"

[Spawner]
cmd = ["$VENV/bin/jupyterhub-singleuser"]
args = $args
default_url = "/lab"
environment = { PATH = "$VENV/bin:/usr/local/bin:/usr/bin:/bin" }

[SimpleLocalProcessSpawner]
home_dir_template = "$PWD/.try/homes/{username}"
TOML
echo "ferrohub: open http://127.0.0.1:8000/ and log in with any user name and the password 'ferrohub'" >&2
cd .try
exec "$BIN" -f ferrohub.toml "$@"
