#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest (unit, conformance, kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check stackctl tests bench
echo "== mypy"
.venv/bin/mypy stackctl
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
