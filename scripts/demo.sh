#!/usr/bin/env bash
# The main job: bring up the example web stack (proxy -> app -> redis, with a
# migration job, healthchecks, a named volume and a published port) and check
# it end to end with a request through the proxy. Safe to run twice: the
# second run finds nothing to change.
#   STACKCTL_ROOT / STACKCTL_RUN_ROOT choose the state roots (default
#   /var/lib/stackctl and /run/stackctl).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
S=.venv/bin/stackctl
STACK=examples/webapp/compose.yaml

if [ -z "$($S images -q stackctl-examples/base:bookworm 2>/dev/null)" ]; then
    scripts/base-image.sh
    echo "== stackctl import base-bookworm.tar stackctl-examples/base:bookworm"
    $S import "${STACKCTL_IMAGE_CACHE:-/var/cache/stackctl}/base-bookworm.tar" \
        stackctl-examples/base:bookworm
fi

echo "== stackctl up -d --wait -f $STACK"
$S up -f "$STACK" -d --wait --progress plain

echo "== stackctl compose ps"
$S compose -f "$STACK" ps

echo "== curl http://127.0.0.1:8080/  (proxy -> app -> redis)"
for i in 1 2; do
    reply=$(curl -fsS --retry 5 --retry-connrefused --retry-delay 1 -m 5 http://127.0.0.1:8080/)
    echo "$reply"
done
case "$reply" in
    *'"visits": '*'"schema": "1"'*) echo "OK: the request went through the proxy to the app and the data store." ;;
    *) echo "FAILED: unexpected reply" >&2; exit 1 ;;
esac
echo
echo "The stack is running. Try:  $S compose -f $STACK logs -f"
echo "Tear it down with:          $S down -f $STACK -v"
