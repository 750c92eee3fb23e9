"""Suite-wide fixtures: per-test state roots, unique names, and the leak check.

Tests marked ``kernel`` need root and the real kernel; they are skipped with a
reason elsewhere, never mocked. At the end of the run, any bridge, veth, netns,
mount, cgroup or monitor process that the suite created and did not remove
fails the run (see tests/leaks.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.leaks import Snapshot
from tests.netclean import release_networks

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = (REPO.parent / "shared" / "conformance").resolve()

_before: Snapshot | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    global _before
    _before = Snapshot.take()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _before is None or getattr(session.config, "workerinput", None) is not None:
        return
    leaked = Snapshot.take().leaked_since(_before)
    if leaked:
        lines = ["", "LEAK CHECK FAILED: the suite left kernel resources or processes behind:"]
        for kind, items in leaked.items():
            lines.append(f"  {kind}:")
            lines.extend(f"    {item}" for item in items[:20])
        print("\n".join(lines))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root and the real kernel")
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def unique() -> str:
    """A short unique token for names (bridges, containers, networks)."""
    return secrets.token_hex(3)


@pytest.fixture
def roots() -> Iterator[tuple[Path, Path]]:
    """A fresh (state root, run root) pair for one test, removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="stackctl-test-"))
    root, run_root = base / "root", base / "run"
    root.mkdir()
    run_root.mkdir()
    yield root, run_root
    release_networks(root, run_root)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def conformance() -> Path:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance corpora not found at {CONFORMANCE}")
    return CONFORMANCE
