"""The minimal edits that make an awesome-compose sample run offline.

Each sample is copied as published, then edited with exact replacements that
must each match (so a drifted corpus fails loudly instead of silently running
something else): base images swapped for the local Debian image
(``scripts/awesome-image.sh``, where the packages were installed at bootstrap),
``pip install`` / ``apk add`` lines dropped or turned into an import check,
and published ports moved to free ports on 127.0.0.1. Files a sample needs
because Debian lacks a PyPI package (a shim) are added, and listed here.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

BASE = "stackctl-awesome/base:bookworm"


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the sample dir
    old: str
    new: str


@dataclass(frozen=True)
class Sample:
    name: str
    edits: tuple[Edit, ...]
    ports: tuple[int, ...]  # container ports published as "<port>:<port>" upstream
    added: dict[str, str] = field(default_factory=dict)  # new files: path -> text


PIP = "pip3 install -r requirements.txt"
PIP_CACHE_RUN = f"RUN --mount=type=cache,target=/root/.cache/pip \\\n    {PIP}"


def check_imports(modules: str) -> str:
    """The cache-mounted pip RUN, checking the packages instead of installing them."""
    return PIP_CACHE_RUN.replace(PIP, f'python3 -c "import {modules}"')


# a stand-in for the environs package (not in Debian), just what settings.py uses
ENVIRONS_SHIM = '''import os


class Env:
    def __call__(self, name, default=None):
        return os.environ.get(name, default)

    def bool(self, name, default=False):
        value = os.environ.get(name)
        return default if value is None else value.lower() in ("1", "true", "yes", "on")

    def list(self, name, default=()):
        value = os.environ.get(name)
        return list(default) if value is None else [v.strip() for v in value.split(",")]
'''

# mysql-connector is not in bookworm: the same calls through PyMySQL
MYSQL_CONNECTOR_SHIM = '''import pymysql


def connect(user, password, host, database, auth_plugin=None):
    return pymysql.connect(user=user, password=password, host=host, database=database)
'''

# The mariadb image's entrypoint, reduced to what this sample uses: on a fresh
# volume, initialise the data dir, set root's password from
# MYSQL_ROOT_PASSWORD_FILE (for root@% too) and create MYSQL_DATABASE.
MARIADB_ENTRYPOINT = '''#!/bin/sh
set -e
mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    pw=$(cat "$MYSQL_ROOT_PASSWORD_FILE")
    mariadbd --user=mysql --bootstrap <<EOF
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';
CREATE USER 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \\`$MYSQL_DATABASE\\`;
EOF
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 "$@"
'''

SAMPLES: dict[str, Sample] = {s.name: s for s in (
    Sample("flask", (
        Edit("app/Dockerfile", "python:3.10-alpine", BASE),
        # keep the cache mount (a feature to exercise); check the package, not install it
        Edit("app/Dockerfile", PIP_CACHE_RUN, check_imports("flask")),
    ), ports=(8000,)),
    Sample("flask-redis", (
        Edit("Dockerfile", "python:3.10-alpine", BASE),
        Edit("Dockerfile", PIP_CACHE_RUN, check_imports("flask, redis")),
        # redismod's entrypoint is redis-server with modules; Debian's without them
        Edit("compose.yaml", "image: redislabs/redismod",
             f"image: {BASE}\n    command: redis-server --protected-mode no"),
    ), ports=(6379, 8000)),
    Sample("nginx-wsgi-flask", (
        Edit("flask/Dockerfile", "FROM python:3.9.2-alpine", f"FROM {BASE}"),
        Edit("flask/Dockerfile", "RUN pip install --upgrade pip\n", ""),
        Edit("flask/Dockerfile", "RUN apk add curl\n", ""),
        Edit("flask/Dockerfile", "RUN adduser -D nonroot", "RUN useradd nonroot"),
        Edit("flask/Dockerfile", "RUN python -m venv $VIRTUAL_ENV\n", ""),
        Edit("flask/Dockerfile", "RUN pip install -r requirements.txt\n", ""),
        Edit("nginx/Dockerfile", "FROM nginx:1.19.7-alpine", f"FROM {BASE}"),
        # the nginx image has bash and an nginx user; Debian's cache dir is /var/lib/nginx
        Edit("nginx/Dockerfile", "RUN apk add bash", "RUN useradd --system nginx"),
        Edit("nginx/Dockerfile", "chown -R nginx:nginx /var/cache/nginx",
             "chown -R nginx:nginx /var/lib/nginx"),
    ), ports=(80, 8000)),
    Sample("apache-php", (
        Edit("app/Dockerfile", "php:8.0.9-apache", BASE),
        # what the php image's apache2-foreground script does (apache2ctl would stay
        # PID 1 as a shell, which ignores SIGTERM: every stop would take the timeout)
        Edit("app/Dockerfile", 'CMD ["apache2-foreground"]',
             'CMD ["sh", "-c", ". /etc/apache2/envvars && mkdir -p \\"$APACHE_RUN_DIR\\" '
             '\\"$APACHE_LOCK_DIR\\" && exec apache2 -DFOREGROUND"]'),
    ), ports=(80,)),
    Sample("django", (
        Edit("app/Dockerfile", "python:3.7-alpine", BASE),
        Edit("app/Dockerfile", "RUN pip3 install -r requirements.txt --no-cache-dir",
             'RUN python3 -c "import django, dotenv"'),
    ), ports=(8000,), added={"app/environs.py": ENVIRONS_SHIM}),
    Sample("fastapi", (
        Edit("Dockerfile", "FROM tiangolo/uvicorn-gunicorn-fastapi:python3.9-slim AS builder",
             f"FROM {BASE} AS builder"),
        Edit("Dockerfile", "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
             "    pip install -r requirements.txt",
             "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
             '    python3 -c "import fastapi, uvicorn"\n'
             # what the tiangolo image's /start.sh runs: gunicorn with uvicorn workers
             # on $PORT (the compose file sets PORT: 8000)
             "CMD exec gunicorn -k uvicorn.workers.UvicornWorker -b 0.0.0.0:$PORT app.main:app"),
    ), ports=(8000,)),
    Sample("nginx-flask-mysql", (
        Edit("compose.yaml", "image: mariadb:10-focal",
             f"image: {BASE}\n    entrypoint: [\"sh\", \"/docker-entrypoint.sh\"]"),
        Edit("compose.yaml", "      - db-data:/var/lib/mysql",
             "      - db-data:/var/lib/mysql\n"
             "      - ./db/docker-entrypoint.sh:/docker-entrypoint.sh:ro"),
        Edit("backend/Dockerfile", "python:3.10-alpine", BASE),
        Edit("backend/Dockerfile", PIP_CACHE_RUN, check_imports("flask, pymysql")),
        Edit("proxy/Dockerfile", "FROM nginx:1.13-alpine", f"FROM {BASE}"),
        # the nginx image has no default site and runs nginx in the foreground
        Edit("proxy/Dockerfile", "COPY conf /etc/nginx/conf.d/default.conf",
             "COPY conf /etc/nginx/conf.d/default.conf\n"
             "RUN rm /etc/nginx/sites-enabled/default\n"
             "STOPSIGNAL SIGQUIT\n"
             'CMD ["nginx", "-g", "daemon off;"]'),
    ), ports=(80, 8000), added={"backend/mysql/__init__.py": "",
                                "backend/mysql/connector.py": MYSQL_CONNECTOR_SHIM,
                                "db/docker-entrypoint.sh": MARIADB_ENTRYPOINT}),
)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(corpus: Path, name: str, dest: Path) -> dict[int, int]:
    """Copy sample ``name`` to ``dest`` with its edits; return {container port: host port}."""
    sample = SAMPLES[name]
    shutil.copytree(corpus / name, dest)
    for edit in sample.edits:
        path = dest / edit.path
        text = path.read_text()
        assert edit.old in text, f"{name}: {edit.path} no longer has {edit.old!r}"
        path.write_text(text.replace(edit.old, edit.new))
    for rel, text in sample.added.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    ports = {p: free_port() for p in sample.ports}
    compose = dest / "compose.yaml"
    text = compose.read_text()
    for container, host in ports.items():
        # short syntax, quoted or not: '8000:8000', "80:80", 8000:8000
        n = sum(text.count(f"{q}{container}:{container}{q}") for q in ("'", '"'))
        text = text.replace(f"'{container}:{container}'", f"'127.0.0.1:{host}:{container}'")
        text = text.replace(f'"{container}:{container}"', f'"127.0.0.1:{host}:{container}"')
        if not n:
            assert f"- {container}:{container}\n" in text, f"{name}: no port {container}"
            text = text.replace(f"- {container}:{container}\n",
                                f"- 127.0.0.1:{host}:{container}\n")
    compose.write_text(text)
    return ports
