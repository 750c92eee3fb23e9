"""fsutil.rmtree behaves as shutil.rmtree(ignore_errors=True) and never leaves the tree."""

from __future__ import annotations

import os
from pathlib import Path

from stackctl.fsutil import rmtree


def _tree(root: Path, outside: Path) -> None:
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "f").write_text("x")
    (root / "a" / "g").write_text("y")
    (root / "link-to-dir").symlink_to(outside)  # must be unlinked, not followed
    (root / "a" / "link-to-file").symlink_to(outside / "keep")
    (root / "dangling").symlink_to(root / "nowhere")
    os.mkfifo(root / "fifo")
    locked = root / "a" / "locked"
    locked.mkdir()
    (locked / "inner").write_text("z")
    locked.chmod(0)  # overlayfs leaves its work/work dir so: root removes it anyway


def test_removes_everything_and_nothing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    root = tmp_path / "tree"
    root.mkdir()
    _tree(root, outside)
    rmtree(root)
    assert not root.exists() and not root.is_symlink()
    assert (outside / "keep").read_text() == "keep"
    assert sorted(p.name for p in outside.iterdir()) == ["keep"]


def test_missing_path_and_plain_file_path_are_quiet(tmp_path: Path) -> None:
    rmtree(tmp_path / "missing")
    f = tmp_path / "file"
    f.write_text("x")
    rmtree(f)  # shutil raises NotADirectoryError, ignored: the file stays
    assert f.exists()


def test_a_symlink_path_is_unlinked_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "target"
    (target / "sub").mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(target)
    rmtree(link)
    assert not link.is_symlink() and (target / "sub").is_dir()
