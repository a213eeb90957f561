#!/usr/bin/env bash
# Static checks, run by scripts/test.sh before the tests and usable alone:
#   1. cargo fmt --check
#   2. cargo clippy on every target with warnings as errors (the lint policy
#      is [workspace.lints] in Cargo.toml, plus clippy.toml)
#   3. cargo deny: licences, bans (duplicate versions), sources (deny.toml),
#      and security advisories when a local RustSec database is available.
#
# There is no network here, so cargo-deny never fetches. The advisory
# database is taken, in this order, from
#   - $FERROHUB_ADVISORY_DB: a git clone (bare or not) of
#     https://github.com/rustsec/advisory-db;
#   - cargo-deny's own cache, ~/.cargo/advisory-dbs/advisory-db-* (left by an
#     earlier `cargo deny fetch` on a machine with network);
#   - ~/.cargo/advisory-db (cargo-audit's cache, also a git clone);
#   - /work/.mirror/rustsec+advisory-db/repo (a bare mirror some build
#     machines carry).
# A git source other than cargo-deny's own cache is cloned into
# $CARGO_TARGET_DIR/advisory-dbs (refreshed when the source moves), because
# cargo-deny opens its database under a directory named after the URL.
# Without any of them the advisories check prints
# "advisories: SKIPPED (no advisory database)" and the script still passes,
# unless FERROHUB_ADVISORIES=require (then it fails). FERROHUB_ADVISORIES=skip
# skips the check even when a database exists.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '%s\n' "$*" >&2; }

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check

echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo deny (licenses, bans, sources)" >&2
# cargo deny reads `cargo metadata` for every platform, so it needs the
# crates of other targets too (windows-sys, ...), which a build here never
# downloads; on a fresh machine they come from the registry now (a no-op
# once they are in ~/.cargo).
cargo fetch --locked --quiet
cargo deny --offline --locked check licenses bans sources

echo "== cargo deny (advisories)" >&2
mode="${FERROHUB_ADVISORIES:-auto}"
case "$mode" in
auto | require | skip) ;;
*)
    log "FERROHUB_ADVISORIES must be auto, require or skip (got '$mode')"
    exit 2
    ;;
esac
if [[ "$mode" == skip ]]; then
    log "advisories: SKIPPED (FERROHUB_ADVISORIES=skip)"
    exit 0
fi

# cargo-deny looks for the database of its default URL
# (https://github.com/RustSec/advisory-db) in <db-path>/<this name>; the
# suffix is cargo-deny's hash of that URL (checked with 0.20.2, the version
# setup.sh installs). Should a release change it, the check fails loudly
# ("failed to get 'FETCH_HEAD' metadata") rather than passing unchecked.
db_name="advisory-db-3157b0e258782691"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
dbs_dir=""     # the db-path cargo-deny is given
source_repo="" # a git repository to clone into $dbs_dir/$db_name

if [[ -n "${FERROHUB_ADVISORY_DB:-}" ]]; then
    if ! git -C "$FERROHUB_ADVISORY_DB" cat-file -e HEAD:crates 2>/dev/null; then
        log "advisories: FERROHUB_ADVISORY_DB=$FERROHUB_ADVISORY_DB is not a git clone of the advisory database"
        exit 1
    fi
    source_repo="$FERROHUB_ADVISORY_DB"
elif [[ -d "$cargo_home/advisory-dbs/$db_name/crates" ]]; then
    dbs_dir="$cargo_home/advisory-dbs"
elif git -C "$cargo_home/advisory-db" cat-file -e HEAD:crates 2>/dev/null; then
    source_repo="$cargo_home/advisory-db"
elif git -C /work/.mirror/rustsec+advisory-db/repo cat-file -e HEAD:crates 2>/dev/null; then
    source_repo="/work/.mirror/rustsec+advisory-db/repo"
fi

if [[ -n "$source_repo" ]]; then
    target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
    dbs_dir="$target_dir/advisory-dbs"
    clone="$dbs_dir/$db_name"
    want="$(git -C "$source_repo" rev-parse HEAD)"
    if [[ ! -d "$clone/.git" ]]; then
        rm -rf "$clone"
        mkdir -p "$dbs_dir"
        git clone -q "$source_repo" "$clone"
    elif [[ "$(git -C "$clone" rev-parse HEAD)" != "$want" ]]; then
        git -C "$clone" remote set-url origin "$source_repo"
        git -C "$clone" fetch -q origin
        git -C "$clone" reset -q --hard "$want"
    fi
fi

if [[ -z "$dbs_dir" ]]; then
    if [[ "$mode" == require ]]; then
        log "advisories: FAILED (no advisory database; set FERROHUB_ADVISORY_DB to a clone of https://github.com/rustsec/advisory-db)"
        exit 1
    fi
    log "advisories: SKIPPED (no advisory database)"
    exit 0
fi

db="$dbs_dir/$db_name"
db_date="$(git -C "$db" show -s --format=%cs HEAD)"
db_age_days=$((($(date +%s) - $(git -C "$db" show -s --format=%ct HEAD)) / 86400))
log "advisories: database $db, last change $db_date ($db_age_days days ago)"
if ((db_age_days > 90)); then
    log "advisories: WARNING the database is over 90 days old; advisories published since are not checked"
fi
# deny.toml leaves db-path at cargo-deny's default; name ours in a copy.
config="$(mktemp --suffix=.toml)"
trap 'rm -f "$config"' EXIT
sed "s|^\[advisories\]\$|[advisories]\ndb-path = \"$dbs_dir\"|" deny.toml >"$config"
cargo deny --offline --locked --config "$config" check advisories
