"""Commit conversion on the real kernel: changes made through an overlay mount of an
image become a layer whose OCI whiteouts hide the deleted files in the next image.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.engine.images.store import ImageStore

pytestmark = pytest.mark.kernel


@contextlib.contextmanager
def overlay(lowers: list[Path], base: Path) -> Iterator[tuple[Path, Path]]:
    """Mount lowers (bottom -> top) with a fresh upper; yield (merged, upper)."""
    upper, work, merged = base / "upper", base / "work", base / "merged"
    for d in (upper, work, merged):
        d.mkdir(parents=True)
    opts = f"lowerdir={':'.join(str(p) for p in reversed(lowers))},upperdir={upper},workdir={work}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)], check=True)
    try:
        yield merged, upper
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_commit_round_trip_with_whiteouts(busybox_image: tuple[Path, str],
                                          tmp_path: Path) -> None:
    root, ref = busybox_image
    with ImageStore(root) as store:
        base = store.resolve(ref)
        with overlay(store.layer_dirs(base), tmp_path / "c1") as (merged, upper):
            (merged / "etc" / "hostname").unlink()              # -> whiteout
            subprocess.run(["rm", "-rf", str(merged / "home")], check=True)
            (merged / "home").mkdir()                          # -> opaque dir
            (merged / "home" / "new").write_text("fresh")
            app = merged / "app"
            app.mkdir()
            (app / "run").write_text("#!/bin/sh\n")
            os.chown(app / "run", 1000, 1000)
            os.chmod(app / "run", 0o4750)  # after chown, which clears set-id bits
            os.link(app / "run", app / "run2")
            os.symlink("/app/run", app / "link")
            with contextlib.suppress(OSError):
                os.setxattr(app / "run", "user.note", b"kept")
            (merged / "bin" / "busybox").chmod(0o700)          # metadata-only copy-up
        # the upper now holds overlay's own whiteout forms
        assert stat.S_ISCHR((upper / "etc" / "hostname").lstat().st_mode)
        with store.writing():
            layer = store.add_layer_from_dir(upper, parent_diff_ids=base.diff_ids)
            child = store.add_child(base, layer=layer, config=base.config,
                                    created_by="stackctl commit", comment="test",
                                    refs=["committed:1"])
        assert child.parent == base.id
        assert child.diff_ids == (*base.diff_ids, layer.diff_id)
        with tarfile.open(store.content.path(layer.blob.digest)) as tar:
            names = {m.name: m for m in tar.getmembers()}
        assert "etc/.wh.hostname" in names
        assert "home/.wh..wh..opq" in names
        assert names["app/run2"].islnk() and names["app/run2"].linkname == "app/run"
        assert names["app/run"].mode == 0o4750 and names["app/run"].uid == 1000
        assert names["app/link"].issym()
        # a container of the child image sees the changes
        lowers = store.layer_dirs(child)
        assert len(lowers) == 2
        with overlay(lowers, tmp_path / "c2") as (merged, _upper):
            assert not (merged / "etc" / "hostname").exists()
            assert (merged / "etc" / "passwd").exists()
            assert os.listdir(merged / "home") == ["new"]
            st = (merged / "app" / "run").stat()
            assert stat.S_IMODE(st.st_mode) == 0o4750 and (st.st_uid, st.st_gid) == (1000, 1000)
            assert (merged / "app" / "run2").stat().st_ino == st.st_ino
            assert os.readlink(merged / "app" / "link") == "/app/run"
            assert stat.S_IMODE((merged / "bin" / "busybox").stat().st_mode) == 0o700
            with contextlib.suppress(OSError):
                assert os.getxattr(merged / "app" / "run", "user.note") == b"kept"
        # history: one entry per step, the layer sizes line up
        assert [h.created_by for h in store.history(child)] == ["stackctl import",
                                                                "stackctl commit"]


def test_deep_image_flattens_bottom_layers(busybox_image: tuple[Path, str],
                                           tmp_path: Path) -> None:
    """An image deeper than max_layers mounts through a flattened bottom."""
    root, ref = busybox_image
    with ImageStore(root) as store:
        rec = store.resolve(ref)
        for i in range(6):
            step = tmp_path / f"step{i}"
            (step / "layers").mkdir(parents=True)
            (step / "layers" / f"f{i}").write_text(str(i))
            if i == 3:  # delete an earlier layer's file through a whiteout
                os.mknod(step / "layers" / "f1", stat.S_IFCHR, os.makedev(0, 0))
            with store.writing():
                layer = store.add_layer_from_dir(step, parent_diff_ids=rec.diff_ids)
                rec = store.add_child(rec, layer=layer, created_by=f"step {i}")
        assert len(rec.diff_ids) == 7
        lowers = store.lower_dirs(rec, max_layers=3)
        assert len(lowers) == 3 and lowers[1:] == store.layer_dirs(rec)[-2:]
        flat = lowers[0]
        assert (flat / "bin" / "busybox").is_file() and (flat / "layers" / "f0").exists()
        assert not (flat / "layers" / "f1").exists()  # applied, not a whiteout device
        assert store.lower_dirs(rec, max_layers=3) == lowers  # cached
        with overlay(lowers, tmp_path / "m") as (merged, _upper):
            assert sorted(os.listdir(merged / "layers")) == ["f0", "f2", "f3", "f4", "f5"]
        # the flattened dir is collected with the images (the steps are dangling parents)
        store.prune(all_unused=True)
        assert store.list() == []
        assert not any((root / "flat").iterdir())
        assert not any((root / "layers").iterdir())


def test_image_deeper_than_one_mount_page_still_mounts(busybox_image: tuple[Path, str],
                                                       tmp_path: Path) -> None:
    from stackctl.engine.images.layers import max_lowers

    root, ref = busybox_image
    with ImageStore(root) as store:
        rec = store.resolve(ref)
        one = len(str(store.layers.path(rec.diff_ids[0]))) + 1
        depth = 4096 // one + 2  # more lowerdirs than one mount's option page can name
        for i in range(depth):
            step = tmp_path / f"s{i}"
            step.mkdir()
            (step / f"f{i:03d}").write_text(str(i))
            with store.writing():
                layer = store.add_layer_from_dir(step, parent_diff_ids=rec.diff_ids)
                rec = store.add_child(rec, layer=layer, created_by=f"step {i}")
        all_dirs = store.layer_dirs(rec)
        assert len(":".join(map(str, all_dirs))) > 4096  # one overlay mount can't take it
        lowers = store.lower_dirs(rec)
        assert len(lowers) <= max_lowers(store.layers.layers_dir)
        with overlay(lowers, tmp_path / "m") as (merged, _upper):
            names = sorted(n for n in os.listdir(merged) if n.startswith("f"))
            assert names == [f"f{i:03d}" for i in range(depth)]
            assert (merged / "bin" / "busybox").is_file()
