#!/usr/bin/env bash
# Build (once per machine) the offline Debian base image tarball that the
# awesome-compose samples run on (tests/awesome/), then optionally import it.
#   scripts/awesome-image.sh [STATE_ROOT]
# Build containers have no network, so every package a sample's Dockerfile
# would `pip install` / `apk add` goes in here, at bootstrap time:
#   flask, flask-redis       python3-flask python3-redis redis-server
#   nginx-wsgi-flask         nginx-light gunicorn curl gettext-base (envsubst)
#   apache-php               apache2 libapache2-mod-php
#   django                   python3-django python3-dotenv
#   fastapi                  python3-fastapi python3-uvicorn (gunicorn workers)
#   nginx-flask-mysql        mariadb-server python3-pymysql (bookworm has no
#                            mysql-connector: the test shims mysql.connector)
# Documentation, man pages and locales are left out to keep the layer small, and
# so is the data dir mariadb-server's postinst made (118 MB, mostly a redo log):
# the db service's entrypoint initialises its own volume, as the mariadb image does.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${STACKCTL_IMAGE_CACHE:-/var/cache/stackctl}
TAR="$CACHE/awesome-bookworm.tar"
PACKAGES=python3,python3-flask,python3-redis,python3-django,python3-dotenv,python3-pymysql
PACKAGES=$PACKAGES,python3-fastapi,python3-uvicorn
PACKAGES=$PACKAGES,gunicorn,nginx-light,redis-server,apache2,libapache2-mod-php
PACKAGES=$PACKAGES,mariadb-server,curl,gettext-base,procps
# the stamp names the recipe too: a changed recipe rebuilds
RECIPE="$PACKAGES;no-mysql-datadir"
mkdir -p "$CACHE"
if [ ! -s "$TAR" ] || [ "$(cat "$TAR.packages" 2>/dev/null)" != "$RECIPE" ]; then
    echo "== mmdebstrap bookworm (awesome-compose samples): a few minutes, once per machine"
    # mmdebstrap picks its output format from the name: keep the .tar suffix
    partial="$CACHE/.partial-awesome-bookworm.tar"
    rm -rf "$partial"
    mmdebstrap --quiet --variant=minbase \
        --aptopt='APT::Install-Recommends "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook='rm -rf "$1"/var/lib/mysql/*' \
        --include="$PACKAGES" bookworm "$partial"
    mv "$partial" "$TAR"
    echo "$RECIPE" > "$TAR.packages"
fi
if [ $# -ge 1 ]; then
    .venv/bin/stackctl --root "$1" import "$TAR" stackctl-awesome/base:bookworm >/dev/null
fi
