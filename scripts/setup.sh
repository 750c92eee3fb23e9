#!/usr/bin/env bash
# Install everything stackctl and its tests need on a Debian machine, as root.
# Safe to run twice: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(busybox-static iproute2 runc curl nftables iptables socat util-linux procps mmdebstrap)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "== python3 -m venv .venv"
    python3 -m venv .venv
fi
stamp=.venv/.stackctl-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    # compat mode: a plain path entry in a .pth file. The default mode installs an
    # import hook whose module imports pathlib, re and urllib at every interpreter
    # start: +20 ms on each stackctl command.
    echo "== pip install -e .[test] (editable_mode=compat)"
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' \
        --config-settings editable_mode=compat 2>&1 | grep -v '^WARNING: Location' || true
    .venv/bin/python -c "import stackctl, pydantic, yaml, networkx, anyio, typer, rich, pyroute2"
    touch "$stamp"
fi
