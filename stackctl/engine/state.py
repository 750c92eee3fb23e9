"""The metadata store: one SQLite database in WAL mode under the state root.

Every multi-step change is one transaction (``BEGIN IMMEDIATE``), so concurrent
commands from separate processes serialise on the database's write lock instead
of corrupting state or handing out the same name or address twice. Blobs and
unpacked layers live on disk beside it (see engine/images); rows here point at
them by digest.

Schema (version in ``PRAGMA user_version``; migrations below are applied in
order, each in its own transaction, and each is tested):

    images      id (config digest) PK · manifest_digest · created · size · config (JSON)
                · parent (image id a build step started from, '' if none)
    refs        name PK (normalised, e.g. docker.io/library/busybox:latest) → image_id
    layers      chain_id PK · diff_id · blob_digest · size · unpacked (0/1)
    containers  id PK (64 hex) · name UNIQUE · image_id · image_ref · config (JSON)
                · status · pid · monitor_pid · exit_code · created · started_at
                · finished_at · restart_count · health (JSON) · labels (JSON)
                · error · oom_killed · pid_start · monitor_start (process start
                  times from /proc/<pid>/stat, so a reused pid is not mistaken)
    volumes     name PK · driver · mountpoint · labels (JSON) · anonymous · created
    networks    id PK · name UNIQUE · bridge UNIQUE · subnet UNIQUE · gateway · internal
                · mtu · labels (JSON) · options (JSON) · created
    endpoints   (container_id, network_id) PK · ip · mac · host_veth · aliases (JSON)
                · ifname (eth0, eth1... inside the container)
                UNIQUE (network_id, ip)          ← the IP lease: at most one holder
    stacks      project PK · config_files (JSON) · working_dir · updated
    draining    (network_id, ip) PK · host_veth · ifindex · since (epoch seconds):
                addresses of released endpoints whose veth the kernel has not
                destroyed yet; not leased again until it has (net/manager.py)

Until the first release, migration 1 may be edited in place: no database made
by a released version exists yet. After it, append migrations only.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stackctl.errors import EngineError

DB_NAME = "state.db"

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema
    """
    CREATE TABLE images (
        id TEXT PRIMARY KEY,
        manifest_digest TEXT NOT NULL,
        created TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        config TEXT NOT NULL,
        parent TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE refs (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX refs_image ON refs(image_id);
    CREATE TABLE layers (
        chain_id TEXT PRIMARY KEY,
        diff_id TEXT NOT NULL,
        blob_digest TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        unpacked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_id TEXT NOT NULL,
        image_ref TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER,
        monitor_pid INTEGER,
        exit_code INTEGER,
        created TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        restart_count INTEGER NOT NULL DEFAULT 0,
        health TEXT,
        labels TEXT NOT NULL DEFAULT '{}',
        error TEXT NOT NULL DEFAULT '',
        oom_killed INTEGER NOT NULL DEFAULT 0,
        pid_start INTEGER,
        monitor_start INTEGER
    );
    CREATE INDEX containers_image ON containers(image_id);
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL DEFAULT 'local',
        mountpoint TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        anonymous INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    );
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        bridge TEXT NOT NULL UNIQUE,
        subnet TEXT NOT NULL UNIQUE,
        gateway TEXT NOT NULL,
        internal INTEGER NOT NULL DEFAULT 0,
        mtu INTEGER NOT NULL DEFAULT 1500,
        labels TEXT NOT NULL DEFAULT '{}',
        options TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE TABLE endpoints (
        container_id TEXT NOT NULL,
        network_id TEXT NOT NULL REFERENCES networks(id),
        ip TEXT NOT NULL,
        mac TEXT NOT NULL,
        host_veth TEXT,
        aliases TEXT NOT NULL DEFAULT '[]',
        ifname TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (container_id, network_id),
        UNIQUE (network_id, ip)
    );
    CREATE TABLE stacks (
        project TEXT PRIMARY KEY,
        config_files TEXT NOT NULL DEFAULT '[]',
        working_dir TEXT NOT NULL DEFAULT '',
        updated TEXT NOT NULL
    );
    """,
    # 2: the local driver's options of a volume (type=none, o=bind, device=PATH)
    """
    ALTER TABLE volumes ADD COLUMN options TEXT NOT NULL DEFAULT '{}'
    """,
    # 3: released addresses in quarantine until the kernel drops their old veth
    """
    CREATE TABLE draining (
        network_id TEXT NOT NULL,
        ip TEXT NOT NULL,
        host_veth TEXT NOT NULL,
        ifindex INTEGER NOT NULL,
        since REAL NOT NULL,
        PRIMARY KEY (network_id, ip)
    )
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class StateStore:
    """A connection to the metadata store of one state root.

    Not shared between threads: open one per thread (or per worker) — SQLite
    connections are cheap, and WAL lets readers proceed beside one writer.
    """

    def __init__(self, root: Path, *, timeout: float = 30.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / DB_NAME
        try:
            self.db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise EngineError(
                f"cannot open the state database {self.path}: {exc}",
                hint="check --root / STACKCTL_ROOT and that you are root",
            ) from exc
        self.db.row_factory = sqlite3.Row
        # Switching a new database to WAL takes an exclusive lock, and SQLite
        # answers SQLITE_BUSY at once (no busy handler) when two processes
        # open a fresh root together; retry it like BEGIN IMMEDIATE.
        self._retry_busy("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken up front so read-then-write can't race."""
        self._begin_immediate()
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def _begin_immediate(self) -> None:
        # sqlite3's busy handler covers most waits; retry the rare SQLITE_BUSY
        # that BEGIN IMMEDIATE can still return under heavy contention.
        self._retry_busy("BEGIN IMMEDIATE")

    def _retry_busy(self, statement: str) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                self.db.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise EngineError(f"state database error: {exc}") from exc
                if time.monotonic() > deadline:
                    raise EngineError(
                        "the state database stayed locked for 60 s",
                        hint="another stackctl command may be stuck; check `ps`",
                    ) from exc
                time.sleep(0.01)

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise EngineError(
                f"state database {self.path} has schema version {version}, "
                f"newer than this stackctl understands ({SCHEMA_VERSION})",
                hint="upgrade stackctl, or use another --root",
            )
        while version < SCHEMA_VERSION:
            self._begin_immediate()
            try:
                # re-read under the write lock: another process may have migrated
                current = self.db.execute("PRAGMA user_version").fetchone()[0]
                if current > version:
                    self.db.execute("COMMIT")
                    version = current
                    continue
                for stmt in _statements(MIGRATIONS[version]):
                    self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            version += 1


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT implicitly; split so a migration stays atomic.
    return [s.strip() for s in script.split(";") if s.strip()]
