#!/usr/bin/env bash
# The main job: bring up the example stack and check it end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/stackctl config -f examples/webapp/compose.yaml
