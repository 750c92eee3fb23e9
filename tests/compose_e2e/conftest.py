"""docker/compose's pkg/e2e scenarios, run against the real ``stackctl`` CLI.

Each test copies its scenario's ``testdata/<TestName>/`` dir (conformance/compose-e2e)
into a temp dir, rewrites the images it names (alpine, bash, nginx) to the local
busybox image, and drives ``stackctl compose`` as a subprocess with the test's own
``--root/--run-root``, as upstream drives ``docker compose``. Assertions are the
upstream ones (SCENARIOS.md): states, replica numbers, recreated or not, exit
codes, output substrings. A finalizer takes the project down (``down -v
--remove-orphans``) and removes whatever is left, even when the test failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compose_e2e.project import Project
from tests.fixtures_images import busybox_image  # noqa: F401  (the fixture, for this dir)


@pytest.fixture
def project(busybox_image: tuple[Path, str], roots: tuple[Path, Path],  # noqa: F811
            tmp_path: Path, unique: str, conformance: Path) -> Iterator[Project]:
    root, run_root = roots
    p = Project(root, run_root, tmp_path / "project", f"e2e{unique}", conformance)
    try:
        yield p
    finally:
        p.cleanup()
