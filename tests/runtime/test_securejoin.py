"""secure_join: the one resolver of paths inside an untrusted root (rootfs, build context)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from stackctl.engine.runtime.securejoin import secure_join


def test_symlinks_resolve_against_the_root_not_the_host(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "real").write_text("x")
    os.symlink("/etc/real", tmp_path / "abs")  # absolute: the root's /etc, not the host's
    os.symlink("../../../../etc", tmp_path / "etc" / "up")  # .. stops at the root
    root = str(tmp_path)
    assert secure_join(root, "/abs") == f"{root}/etc/real"
    assert secure_join(root, "etc/up/real") == f"{root}/etc/real"
    assert secure_join(root, "/../../x/./y") == f"{root}/x/y"  # missing parts kept
    assert secure_join(root, "") == root


def test_a_symlink_loop_is_eloop(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError) as exc:
        secure_join(str(tmp_path), "a")
    assert exc.value.errno == errno.ELOOP


def test_max_links(tmp_path: Path) -> None:
    for i in range(3):
        os.symlink(f"l{i + 1}", tmp_path / f"l{i}")
    assert secure_join(str(tmp_path), "l0", max_links=3) == f"{tmp_path}/l3"
    with pytest.raises(OSError):
        secure_join(str(tmp_path), "l0", max_links=2)
