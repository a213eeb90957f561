#!/usr/bin/env bash
# Builds, without a registry, the stand-in for `debian:bookworm-slim` that
# the hub image test builds the Dockerfile's `prebuilt` target on: what the
# hub binaries need at run time (glibc, libgcc, PAM, CA certificates, a
# shell and coreutils for the Dockerfile's RUN lines), as a root-file-system
# tarball that `docker import` turns into an image. Taken from this
# machine's installed bookworm packages, like singleuser-image.sh; cached,
# rebuilt only when the recipe changes.
#
# Usage: hub-base-image.sh OUT_DIR
# Writes OUT_DIR/hub-base-<hash>.tar and OUT_DIR/hub-base.env with
#   FERROHUB_HUB_BASE_IMAGE=ferrohub/hub-base:<hash>
#   FERROHUB_HUB_BASE_TARBALL=OUT_DIR/hub-base-<hash>.tar
set -euo pipefail

OUT="$(realpath -m "$1")"
ROOTS=(base-files libc6 libgcc-s1 libpam0g libpam-modules libpam-runtime ca-certificates bash dash coreutils netbase)

log() { printf 'hub-base-image: %s\n' "$*" >&2; }
# shellcheck source=lib/debian-rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-rootfs.sh"

mapfile -t packages < <(debian_closure "${ROOTS[@]}")
versions="$(dpkg-query -W -f='${Package}=${Version}\n' "${packages[@]}")"
hash="$({
    cat "$0" "$(dirname "${BASH_SOURCE[0]}")/lib/debian-rootfs.sh"
    printf '%s\n' "$versions"
    sha256sum /etc/ssl/certs/ca-certificates.crt
} | sha256sum | cut -c1-16)"
tag="ferrohub/hub-base:$hash"
tarball="$OUT/hub-base-$hash.tar"
if [[ -f "$tarball" && -f "$OUT/hub-base.env" ]] && grep -qx "FERROHUB_HUB_BASE_IMAGE=$tag" "$OUT/hub-base.env"; then
    exit 0
fi

log "building $tag from ${#packages[@]} Debian packages"
mkdir -p "$OUT"
stage="$(mktemp -d "$OUT/.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
debian_rootfs "$stage" "${packages[@]}"
# What package scripts would have made: the accounts and the CA bundle.
mkdir -p "$stage/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$stage/etc/ssl/certs/"
cat >"$stage/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$stage/etc/group" <<GROUP
root:x:0:
nogroup:x:65534:
GROUP
tar -C "$stage" -cf "$tarball.part" .
mv "$tarball.part" "$tarball"
find "$OUT" -maxdepth 1 -name 'hub-base-*.tar' ! -name "hub-base-$hash.tar" -delete
cat >"$OUT/hub-base.env.part" <<ENV
FERROHUB_HUB_BASE_IMAGE=$tag
FERROHUB_HUB_BASE_TARBALL=$tarball
ENV
mv "$OUT/hub-base.env.part" "$OUT/hub-base.env"
log "built $tarball ($(du -h "$tarball" | cut -f1))"
