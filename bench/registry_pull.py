"""Registry pull figures: a ~20 MB, 4-layer gzip image from the loopback test registry.

Prints, for a fresh state root each run: the cold pull (every blob downloaded,
digests and diff IDs verified while streaming, layers unpacked, image
registered) and a second pull of the same reference (a no-op: one manifest
request, nothing fetched), both in-process (``pull_image``) and as the user
runs them (``stackctl pull``, a fresh process). Also the push of the same image
to an empty repository. Everything stays on 127.0.0.1.

Usage: .venv/bin/python bench/registry_pull.py [--runs N]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stackctl.engine.images.store import ImageStore  # noqa: E402
from stackctl.engine.registry.pull import pull_image  # noqa: E402
from stackctl.engine.registry.push import push_image  # noqa: E402
from tests.images import busybox_rootfs_tar  # noqa: E402
from tests.registry.craft import DOCKER  # noqa: E402
from tests.registry.server import Registry, sha256  # noqa: E402


def _data_layer(seed: int, size: int) -> bytes:
    """A tar of a few files: half random (incompressible), half text (compressible)."""
    buf = io.BytesIO()
    rnd = os.urandom(size // 2)
    text = (f"line {seed} of a log-like file with some repetition\n" * (size // 100)).encode()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in ((f"data/{seed}/blob.bin", rnd), (f"data/{seed}/log.txt", text)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def seed_registry(reg: Registry, repo: str) -> int:
    """Put the image on the registry; return the total size of its blobs."""
    import json

    raws = [busybox_rootfs_tar().read_bytes(), *(_data_layer(i, 12 << 20) for i in range(3))]
    blobs = [gzip.compress(r, compresslevel=1, mtime=0) for r in raws]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha256(r) for r in raws]}},
                        sort_keys=True).encode()
    cdigest = reg.put_blob(repo, config)
    layers = [{"mediaType": DOCKER["layer"], "digest": reg.put_blob(repo, b), "size": len(b)}
              for b in blobs]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": DOCKER["manifest"],
                           "config": {"mediaType": DOCKER["config"], "digest": cdigest,
                                      "size": len(config)}, "layers": layers}).encode()
    reg.put_manifest(repo, "1", DOCKER["manifest"], manifest)
    return sum(len(b) for b in blobs) + len(config)


def _cli(root: Path, *args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root), *args],
                   check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    cold, serial, noop, cli_cold, cli_noop, push, push_gz = [], [], [], [], [], [], []
    with Registry() as reg:
        total = seed_registry(reg, "bench/app")
        name = f"{reg.host}/bench/app:1"
        for run in range(args.runs):
            base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
            try:
                with ImageStore(base / "a") as store:
                    t0 = time.perf_counter()
                    res = pull_image(store, name)
                    cold.append(time.perf_counter() - t0)
                    assert res.fetched == 4
                    t0 = time.perf_counter()
                    again = pull_image(store, name)
                    noop.append(time.perf_counter() - t0)
                    assert again.up_to_date and again.fetched == 0
                    target = f"{reg.host}/bench/pushed{run}:1"
                    store.tag(res.record.id, target)
                    reg.allow_mount = False  # a real upload, not a mount
                    t0 = time.perf_counter()
                    push_image(store, target)
                    push.append(time.perf_counter() - t0)
                with ImageStore(base / "c") as store:
                    t0 = time.perf_counter()
                    pull_image(store, name, max_concurrent=1)
                    serial.append(time.perf_counter() - t0)
                    plain = f"{reg.host}/bench/plain{run}:1"
                    rec = store.import_tar(busybox_rootfs_tar(), plain)
                    t0 = time.perf_counter()
                    push_image(store, plain, compress=True)
                    push_gz.append(time.perf_counter() - t0)
                cli_cold.append(_cli(base / "b", "pull", "-q", name))
                cli_noop.append(_cli(base / "b", "pull", "-q", name))
            finally:
                shutil.rmtree(base, ignore_errors=True)
    mb = total / 1e6
    med = statistics.median
    print(f"image: 4 gzip layers + config, {mb:.1f} MB of blobs, loopback registry")
    print(f"pull, cold (in-process):     median {med(cold) * 1000:7.0f} ms  "
          f"({mb / med(cold):.0f} MB/s incl. verify + unpack)")
    print(f"pull, cold, 1 download at a time: {med(serial) * 1000:5.0f} ms")
    print(f"pull, no-op (in-process):    median {med(noop) * 1000:7.1f} ms  (0 blobs fetched)")
    print(f"stackctl pull, cold:         median {med(cli_cold) * 1000:7.0f} ms")
    print(f"stackctl pull, no-op:        median {med(cli_noop) * 1000:7.0f} ms")
    print(f"push to an empty repository: median {med(push) * 1000:7.0f} ms")
    print(f"push --compress, busybox ({rec.size / 1e6:.1f} MB plain layer): "
          f"median {med(push_gz) * 1000:5.0f} ms")


if __name__ == "__main__":
    main()
