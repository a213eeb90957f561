#!/usr/bin/env bash
# Builds the single-user image for DockerSpawner tests without a registry,
# as a root-file-system tarball that `docker import` turns into an image.
#
# The image is a real Debian bookworm system in miniature: the files of the
# Debian packages Python 3.11 needs (the dependency closure of python3.11,
# bash, dash as /bin/sh and coreutils, taken from this machine's installed packages, which is
# the same bookworm the suite runs on) plus the suite's virtualenv (jupyterhub,
# jupyterlab; same versions as the local-process tests) copied to the same
# path, so its scripts' `#!` lines and its `home = /usr/bin` stay right. No
# debootstrap and no pip: a build takes seconds instead of minutes.
#
# The output is cached and rebuilt only when the recipe changes: its tag is a
# hash of this script, the package versions and the virtualenv's `pip freeze`.
#
# Usage: singleuser-image.sh VENV OUT_DIR
# Writes OUT_DIR/singleuser-<hash>.tar and OUT_DIR/singleuser.env with
#   FERROHUB_SINGLEUSER_IMAGE=ferrohub/singleuser:<hash>
#   FERROHUB_SINGLEUSER_TARBALL=OUT_DIR/singleuser-<hash>.tar
#   FERROHUB_SINGLEUSER_CHANGES=<docker import --change lines, one per line>
set -euo pipefail

VENV="$1"
OUT="$(realpath -m "$2")"
ROOTS=(python3-minimal python3.11 bash dash coreutils base-files libstdc++6 netbase)

log() { printf 'singleuser-image: %s\n' "$*" >&2; }
# shellcheck source=lib/debian-rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-rootfs.sh"

# The packages whose files make up the image: the closure of ROOTS over
# Depends/PreDepends, as installed here.
mapfile -t packages < <(debian_closure "${ROOTS[@]}")
versions="$(dpkg-query -W -f='${Package}=${Version}\n' "${packages[@]}")"
freeze="$("$VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null)"
hash="$({
    cat "$0" "$(dirname "${BASH_SOURCE[0]}")/lib/debian-rootfs.sh"
    printf '%s\n' "$VENV" "$versions" "$freeze"
} | sha256sum | cut -c1-16)"
tag="ferrohub/singleuser:$hash"
tarball="$OUT/singleuser-$hash.tar"
if [[ -f "$tarball" && -f "$OUT/singleuser.env" ]] && grep -qx "FERROHUB_SINGLEUSER_IMAGE=$tag" "$OUT/singleuser.env"; then
    exit 0
fi

log "building $tag from ${#packages[@]} Debian packages and $VENV"
mkdir -p "$OUT"
stage="$(mktemp -d "$OUT/.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
debian_rootfs "$stage" "${packages[@]}"
mkdir -p "$stage$(dirname "$VENV")"
cp -a "$VENV" "$stage$VENV"
# The user the server runs as (jovyan, uid 1000, as the Jupyter images).
mkdir -p "$stage/etc" "$stage/home/jovyan"
chown 1000:100 "$stage/home/jovyan"
cat >"$stage/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
jovyan:x:1000:100::/home/jovyan:/bin/bash
PASSWD
cat >"$stage/etc/group" <<GROUP
root:x:0:
users:x:100:
nogroup:x:65534:
GROUP
tar -C "$stage" -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
# Older images of this recipe are no longer used.
find "$OUT" -maxdepth 1 -name 'singleuser-*.tar' ! -name "singleuser-$hash.tar" -delete
cat >"$OUT/singleuser.env.part" <<ENV
FERROHUB_SINGLEUSER_IMAGE=$tag
FERROHUB_SINGLEUSER_TARBALL=$tarball
FERROHUB_SINGLEUSER_CHANGES=ENV PATH=$VENV/bin:/usr/local/bin:/usr/bin:/bin
FERROHUB_SINGLEUSER_CHANGES=ENV HOME=/home/jovyan
FERROHUB_SINGLEUSER_CHANGES=USER 1000:100
FERROHUB_SINGLEUSER_CHANGES=WORKDIR /home/jovyan
FERROHUB_SINGLEUSER_CHANGES=CMD ["jupyterhub-singleuser"]
ENV
mv "$OUT/singleuser.env.part" "$OUT/singleuser.env"
log "built $tarball ($(du -h "$tarball" | cut -f1))"
