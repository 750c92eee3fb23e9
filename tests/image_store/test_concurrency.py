"""Separate processes importing, tagging and collecting garbage in one state root at
once: no error, no lost ref, and every recorded image stays complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stackctl.engine.images.store import ImageStore
from tests.images import busybox_rootfs_tar

WORKER = """
import sys
from pathlib import Path
from stackctl.engine.images.store import ImageStore
root, tar, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with ImageStore(root) as store:
    for i in range(3):
        store.import_tar(tar, f"{name}:{i}")
        store.prune(all_unused=False)       # GC while the others write
        if i:
            store.remove(f"{name}:{i - 1}")
"""


def test_parallel_imports_and_gc(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    tar = busybox_rootfs_tar()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(tar), f"w{n}"],
                              stderr=subprocess.PIPE, text=True) for n in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with ImageStore(root) as store:
        images = store.list()
        assert sorted(r for rec in images for r in rec.refs) == [
            f"docker.io/library/w{n}:2" for n in range(4)]
        for rec in images:
            manifest = store.manifest(rec)
            for d in (rec.id, *(x.digest for x in manifest.layers)):
                assert store.content.verify(d)
            assert (store.layer_dirs(rec)[0] / "bin" / "busybox").is_file()
        store.collect_garbage()
        assert len(list((root / "layers").iterdir())) == 1
