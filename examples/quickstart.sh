#!/bin/sh
# Quick start: publish examples/hello to the built-in defaults (a local file:// binary
# cache and the local catalog, both in floxls' data dir), then show the catalog entry.
#
#   sh examples/quickstart.sh              # uses your floxls data dir (~/.local/share/floxls)
#   QUICKSTART_THROWAWAY=1 sh examples/quickstart.sh   # everything in a temp dir
#
# A publish builds from a clean clone of a pushed commit, so the example is copied into a
# temporary git repository with a local bare "remote". Nothing outside the data dir and
# that temp dir is touched (your flox.toml is not changed: the publish feature is turned
# on for this run with FLOX_FEATURES_PUBLISH=true).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
example="$here/hello"

if command -v floxls >/dev/null 2>&1; then
    floxls() { command floxls "$@"; }
else
    floxls() { python3 -m floxls "$@"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/floxls-quickstart.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT INT TERM

if [ "${QUICKSTART_THROWAWAY:-}" = 1 ]; then
    FLOXLS_DATA_DIR="$work/data"
    export FLOXLS_DATA_DIR
    trap - EXIT INT TERM
    echo "quickstart: throwaway data dir $FLOXLS_DATA_DIR (kept for inspection)"
fi
data_dir=${FLOXLS_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/floxls}
mkdir -p "$data_dir"

# 1. a signing key, made once
key="$data_dir/quickstart-signing.key"
if [ ! -f "$key" ]; then
    echo "quickstart: generating a signing key in $key"
    floxls key generate --name "floxls-quickstart-1" --out "$key" >/dev/null
fi

# 2. the example as a git repository, pushed to a local bare remote
repo="$work/hello"
cp -R "$example" "$repo"
: "${GIT_AUTHOR_NAME:=floxls quickstart}" "${GIT_AUTHOR_EMAIL:=quickstart@example.invalid}"
: "${GIT_COMMITTER_NAME:=$GIT_AUTHOR_NAME}" "${GIT_COMMITTER_EMAIL:=$GIT_AUTHOR_EMAIL}"
export GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
git init -q -b main "$repo"
git -C "$repo" add -A
git -C "$repo" -c commit.gpgsign=false commit -q -m "hello example"
git init -q --bare -b main "$work/remote.git"
git -C "$repo" remote add origin "$work/remote.git"
git -C "$repo" push -q -u origin main

# 3. publish to the embedded defaults, then show what the catalog holds
FLOX_FEATURES_PUBLISH=true floxls publish -d "$repo" --signing-key "$key" hello \
    | tee "$work/publish.out"
ref=$(sed -n 's/^Published \([^ ]*\) .*/\1/p' "$work/publish.out" | tail -n 1)
if [ -z "$ref" ]; then
    echo "quickstart: the publish did not report a package" >&2
    exit 1
fi
echo
floxls show "$ref"
echo
echo "quickstart: done. The binary cache and catalog are in $data_dir;"
echo "the public key to trust is: $(floxls key public "$key")"
