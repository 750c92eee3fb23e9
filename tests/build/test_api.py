"""The compose-facing entry point: build: sections -> BuildRequest -> image."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.engine.build.api import build_for_service, request_from_compose
from stackctl.errors import BuildError


def test_request_from_compose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prod.Dockerfile").write_text("FROM busybox\n")
    monkeypatch.setenv("FROM_ENV", "env-value")
    req = request_from_compose({
        "context": str(tmp_path), "dockerfile": "prod.Dockerfile", "target": "prod",
        "args": ["A=1", "FROM_ENV", "MISSING"], "labels": {"l": 1}, "no_cache": True,
        "tags": ["extra:1"],
    }, tag="app:latest")
    assert req.dockerfile == b"FROM busybox\n"
    assert req.dockerfile_name == str(tmp_path / "prod.Dockerfile")
    assert req.build_args == {"A": "1", "FROM_ENV": "env-value"}
    assert req.labels == {"l": "1"} and req.target == "prod" and req.no_cache
    assert req.tags == ("app:latest", "extra:1")
    inline = request_from_compose({"context": str(tmp_path), "dockerfile_inline": "FROM x\n"},
                                  tag=None)
    assert inline.dockerfile == b"FROM x\n" and inline.tags == ()
    with pytest.raises(BuildError, match="cannot read the Dockerfile"):
        request_from_compose({"context": str(tmp_path)}, tag="x")


@pytest.mark.kernel
def test_build_for_service(busybox_image: tuple[Path, str], roots: tuple[Path, Path],
                           tmp_path: Path) -> None:
    from stackctl.engine.api import Engine

    root, run_root = roots
    (tmp_path / "Dockerfile").write_text("FROM busybox AS base\nARG MSG\n"
                                         "RUN echo $MSG > /msg\nFROM base AS prod\n")
    with Engine(root, run_root) as engine:
        image_id = build_for_service(
            engine, {"context": str(tmp_path), "args": {"MSG": "hi"}, "target": "prod"},
            tag="svc:latest")
        assert engine.images.resolve("svc:latest").id == image_id
