#!/usr/bin/env bash
# Build (once per machine) the offline Debian base image tarball that the
# examples' Dockerfiles start FROM, then import it into the given state root.
#   scripts/base-image.sh [STATE_ROOT]
# Build containers have no network, so packages go in at bootstrap time.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${STACKCTL_IMAGE_CACHE:-/var/cache/stackctl}
TAR="$CACHE/base-bookworm.tar"
PACKAGES=python3,nginx-light,redis-server,redis-tools,curl,ca-certificates,procps
mkdir -p "$CACHE"
if [ ! -s "$TAR" ] || [ "$(cat "$TAR.packages" 2>/dev/null)" != "$PACKAGES" ]; then
    echo "== mmdebstrap bookworm ($PACKAGES): about 40 s, once per machine"
    # mmdebstrap picks its output format from the name: keep the .tar suffix
    partial="$CACHE/.partial-base-bookworm.tar"
    rm -rf "$partial"
    mmdebstrap --quiet --variant=minbase --include="$PACKAGES" bookworm "$partial"
    mv "$partial" "$TAR"
    echo "$PACKAGES" > "$TAR.packages"
fi
if [ $# -ge 1 ]; then
    .venv/bin/stackctl --root "$1" import "$TAR" stackctl-examples/base:bookworm >/dev/null
fi
