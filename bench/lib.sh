# Shared by the bench/*/run.sh scripts (sourced, not run): logging, Debian
# packages, the --rev option, the release build of the hub and the proxy,
# and running bench.py so that Ctrl-C stops everything it started.
#
# After `bench_parse_args "$@"`: $rev (maybe empty) and the array bench_args.
# After `bench_build`: $bin_dir (ferrohub, ferrohub-proxy) and $label.

# -h/--help anywhere: usage, then bench.py's own help (bench.py beside the
# calling script, in $here).
bench_help_if_asked() {
    local arg
    for arg in "$@"; do
        if [[ "$arg" == -h || "$arg" == --help ]]; then
            echo "usage: $0 [--rev REV] [bench.py options]"
            exec python3 "$here/bench.py" --help
        fi
    done
}

log() { printf 'bench: %s\n' "$*" >&2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages given as "command:package" whose command is
# missing from PATH and /usr/sbin.
bench_require() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null || [[ -x "/usr/sbin/${pair%%:*}" ]] ||
            missing+=("${pair#*:}")
    done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
    # Debian starts nginx's service on install; a benchmark runs its own.
    as_root systemctl disable --now nginx >/dev/null 2>&1 || true
}

bench_parse_args() {
    rev=""
    bench_args=()
    while (($#)); do
        case "$1" in
            --rev) rev="$2"; shift 2 ;;
            --rev=*) rev="${1#--rev=}"; shift ;;
            *) bench_args+=("$1"); shift ;;
        esac
    done
}

# Builds ferrohub and ferrohub-proxy in release mode (CARGO_TARGET_DIR is
# honoured; the target directory is asked of cargo itself): the working
# tree, or with --rev that commit, exported with `git archive` to a fixed
# $TMPDIR/ferrohub-bench-src (so cargo finds its previous build of the same
# sources; the work tree is not touched) and the binaries copied out.
bench_build() {
    local repo="$1"
    cd "$repo"
    target_dir="$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    if [[ -z "$rev" ]]; then
        log "building ferrohub and ferrohub-proxy (release) from the working tree"
        cargo build --release --quiet -p ferrohub -p ferrohub-proxy --bins
        bin_dir="$target_dir/release"
        local changed
        changed="$(git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock | wc -l)"
        label="working tree at $(git rev-parse --short HEAD), $changed tracked files modified"
    else
        local commit export_dir="${TMPDIR:-/tmp}/ferrohub-bench-src"
        commit="$(git rev-parse --verify "$rev^{commit}")"
        log "building ferrohub and ferrohub-proxy (release) from commit ${commit:0:12} in $export_dir"
        rm -rf "$export_dir"
        mkdir -p "$export_dir"
        git archive "$commit" | tar -x -C "$export_dir/"
        mkdir -p "$export_dir/bin"
        (cd "$export_dir" && CARGO_TARGET_DIR="$target_dir" \
            cargo build --release --quiet -p ferrohub -p ferrohub-proxy --bins)
        cp "$target_dir/release/ferrohub" "$target_dir/release/ferrohub-proxy" "$export_dir/bin/"
        bin_dir="$export_dir/bin"
        label="commit ${commit:0:12}"
    fi
}

# Runs a command (bench.py) in the background and waits for it; on exit,
# Ctrl-C or SIGTERM it gets SIGTERM and is waited for, so that it stops
# every process it started. Exits with its status.
bench_run() {
    bench_pid=""
    trap 'if [[ -n "$bench_pid" ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "$@" &
    bench_pid=$!
    local status=0
    wait "$bench_pid" || status=$?
    bench_pid=""
    exit "$status"
}
