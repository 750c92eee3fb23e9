"""Fixtures: a loopback registry per test, and a two-layer busybox image to push."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageRecord, ImageStore
from tests.fixtures_images import import_busybox
from tests.registry.server import Registry


@pytest.fixture
def registry() -> Iterator[Registry]:
    with Registry() as reg:
        yield reg


def make_app_image(root: Path, ref: str) -> ImageRecord:
    """busybox + one layer with /app/hello.txt and a 0750 script, tagged ``ref``."""
    base = import_busybox(root)
    src = root.parent / "app-layer"
    (src / "app").mkdir(parents=True)
    (src / "app" / "hello.txt").write_text("hello from the registry\n")
    script = src / "app" / "run.sh"
    script.write_text("#!/bin/sh\necho ok\n")
    os.chmod(script, 0o750)
    with ImageStore(root) as store, store.writing():
        layer = store.add_layer_from_dir(src, parent_diff_ids=base.diff_ids)
        return store.add_child(base, layer=layer, created_by="COPY app /app", refs=[ref])


@pytest.fixture
def app_image(roots: tuple[Path, Path]) -> tuple[Path, ImageRecord]:
    root, _run = roots
    return root, make_app_image(root, "app:1")
