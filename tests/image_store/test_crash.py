"""Crash safety: a writer killed at any point leaves a store that reads consistently
and that garbage collection brings back to exactly what the rows reference."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stackctl.engine.images.store import ImageStore
from tests.images import busybox_rootfs_tar

WORKER = """
import sys
from pathlib import Path
from stackctl.engine.images.store import ImageStore
root, tar = Path(sys.argv[1]), Path(sys.argv[2])
with ImageStore(root) as store:
    i = 0
    while True:
        store.import_tar(tar, f"crash:{i}")
        store.remove(f"crash:{i}")
        i += 1
"""


def check_consistent(root: Path) -> None:
    with ImageStore(root) as store:
        for rec in store.list():
            for d in (rec.id, rec.manifest_digest,
                      *(x.digest for x in store.manifest(rec).layers)):
                assert store.content.verify(d)
            assert store.layer_dirs(rec)
        index = json.loads((root / "images" / "index.json").read_text())
        assert isinstance(index["manifests"], list)
        store.collect_garbage()
        live = {d for rec in store.list()
                for d in (rec.id, rec.manifest_digest,
                          *(x.digest for x in store.manifest(rec).layers))}
        assert set(store.content.digests()) == live
        chains = {c.split(":")[1] for rec in store.list() for c in rec.chain_ids}
        assert {p.name for p in (root / "layers").iterdir()} == chains
        assert not list((root / "tmp").glob("ingest-*"))


def test_killed_writers_leave_a_repairable_store(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    tar = busybox_rootfs_tar()
    for delay in (0.3, 0.45, 0.6, 0.8, 1.0):
        proc = subprocess.Popen([sys.executable, "-c", WORKER, str(root), str(tar)],
                                stderr=subprocess.PIPE)
        time.sleep(delay)  # not a timing assertion: only where the kill lands varies
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        check_consistent(root)


def test_leftovers_are_swept(roots: tuple[Path, Path]) -> None:
    root, _ = roots
    with ImageStore(root) as store:
        store.import_tar(busybox_rootfs_tar(), "keep")
        (root / "tmp" / "ingest-deadbeef").write_bytes(b"partial")
        (root / "layers" / "tmp-abc" / "diff").mkdir(parents=True)
        (root / "images" / "blobs" / "sha256" / ("0" * 64)).write_bytes(b"orphan")
        (root / "layers" / ("1" * 64) / "diff").mkdir(parents=True)
    check_consistent(root)
    with ImageStore(root) as store:
        assert [r.refs for r in store.list()] == [("docker.io/library/keep:latest",)]
