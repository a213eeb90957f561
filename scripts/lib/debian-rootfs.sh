# Shared by the image scripts that build without a registry: a Debian
# bookworm root file system made of the files this machine's installed
# packages hold (the same bookworm the suite runs on). Source it; bash only.

# debian_closure ROOTS...: the packages ROOTS need (Depends/PreDepends,
# recursively), as installed here, one per line.
debian_closure() {
    apt-cache depends --recurse --installed --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
        grep -v '^[ <]' | sort -u
}

# debian_rootfs STAGE PACKAGES...: copies every file and link of PACKAGES
# into STAGE, under bookworm's merged /usr (the top-level bin, lib, lib64
# and sbin are links into /usr). Directories are not copied whole (tar would
# take their whole content); conffiles removed on this machine are skipped.
debian_rootfs() {
    local stage="$1"
    shift
    mkdir -p "$stage/usr/bin" "$stage/usr/lib" "$stage/usr/lib64" "$stage/usr/sbin"
    local dir
    for dir in bin lib lib64 sbin; do ln -s "usr/$dir" "$stage/$dir"; done
    local pkg
    for pkg in "$@"; do dpkg -L "$pkg"; done | sort -u |
        while IFS= read -r path; do
            if [[ -L "$path" || (-e "$path" && ! -d "$path") ]]; then
                printf '%s\n' "${path#/}"
            fi
        done >"$stage/.files"
    tar -C / --no-recursion -cf - -T "$stage/.files" |
        tar -C "$stage" --keep-directory-symlink -xf -
    rm "$stage/.files"
    mkdir -p "$stage/tmp" "$stage/var/tmp" "$stage/root" "$stage/run"
    chmod 1777 "$stage/tmp" "$stage/var/tmp"
}
