"""The metadata store: migrations, transactions, and concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from stackctl.engine.state import SCHEMA_VERSION, StateStore
from stackctl.errors import EngineError


def test_fresh_store_is_at_current_schema(tmp_path: Path) -> None:
    with StateStore(tmp_path) as st:
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert st.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in st.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"images", "refs", "containers", "networks", "endpoints", "volumes"} <= tables


def test_reopen_does_not_migrate_again(tmp_path: Path) -> None:
    StateStore(tmp_path).close()
    with StateStore(tmp_path) as st:
        assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_of_every_older_version_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    from stackctl.engine.state import MIGRATIONS, _statements

    for version in range(1, SCHEMA_VERSION):
        root = tmp_path / f"v{version}"
        root.mkdir()
        db = sqlite3.connect(root / "state.db")
        for migration in MIGRATIONS[:version]:
            for stmt in _statements(migration):
                db.execute(stmt)
        db.execute(f"PRAGMA user_version = {version}")
        db.execute("INSERT INTO stacks(project, updated) VALUES ('p', 'then')")
        db.commit()
        db.close()
        with StateStore(root) as st:
            assert st.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert [tuple(r) for r in st.db.execute("SELECT updated FROM stacks")] == [("then",)]
            st.db.execute("SELECT options FROM volumes").fetchall()  # migration 2
            st.db.execute("SELECT network_id, ip, host_veth, ifindex, since "
                          "FROM draining").fetchall()  # migration 3


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    StateStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(EngineError, match="newer than this stackctl"):
        StateStore(tmp_path)


def test_failed_transaction_rolls_back(tmp_path: Path) -> None:
    with StateStore(tmp_path) as st:
        with pytest.raises(RuntimeError), st.transaction() as db:
            db.execute("INSERT INTO stacks(project, updated) VALUES ('p', 'now')")
            raise RuntimeError("boom")
        assert st.db.execute("SELECT count(*) FROM stacks").fetchone()[0] == 0


def _lease(args: tuple[str, int]) -> list[str]:
    root, n = args
    got = []
    with StateStore(Path(root)) as st:
        for _ in range(n):
            with st.transaction() as db:
                used = {r[0] for r in db.execute("SELECT ip FROM endpoints WHERE network_id='n'")}
                ip = next(f"10.0.0.{i}" for i in range(2, 255) if f"10.0.0.{i}" not in used)
                cid = f"c{len(used)}-{ip}"
                db.execute(
                    "INSERT INTO endpoints(container_id, network_id, ip, mac) VALUES (?,?,?,?)",
                    (cid, "n", ip, "02:00:00:00:00:00"),
                )
            got.append(ip)
    return got


def test_concurrent_processes_never_share_a_lease(tmp_path: Path) -> None:
    with StateStore(tmp_path) as st, st.transaction() as db:
        db.execute(
            "INSERT INTO networks(id, name, bridge, subnet, gateway, created) "
            "VALUES ('n','n','br','10.0.0.0/24','10.0.0.1','now')"
        )
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = pool.map(_lease, [(str(tmp_path), 20)] * 4)
    ips = [ip for r in results for ip in r]
    assert len(ips) == 80
    assert len(set(ips)) == 80


def test_threads_opening_one_fresh_root_together_all_succeed(tmp_path: Path) -> None:
    # The switch of a new database to WAL answered "database is locked" at
    # once (SQLite calls no busy handler for it) when two pulls opened a fresh
    # root together; CI caught it about one run in ten.
    import threading

    for attempt in range(40):
        root = tmp_path / str(attempt)
        errors: list[BaseException] = []

        def open_and_write(root: Path = root, errors: list[BaseException] = errors) -> None:
            try:
                with StateStore(root) as store, store.transaction() as db:
                    db.execute("SELECT 1")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_and_write) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], f"attempt {attempt}"
