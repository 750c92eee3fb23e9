"""Image store figures: import time, resolve/layer_dirs latency, save/load, and layer
dedupe across images that share a base.

Prints median over N runs (fresh state root each) of:
  import busybox (cold)       hash + blob + unpack of the ~2 MB busybox rootfs tarball
  import busybox (same tar)   second import into the same root: the layer is reused
  resolve + layer_dirs        what `run` does to find its lowerdirs
  save / load                 docker-archive round trip into a fresh root
and, for dedupe, two images built on one base (each adding one small layer):
the bytes on disk (blobs + unpacked layers) vs what three separate copies would cost.
Usage: .venv/bin/python bench/image_store.py [N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stackctl.engine.images.archive import load, save
from stackctl.engine.images.store import ImageStore
from tests.images import busybox_rootfs_tar


def du(path: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    tar = busybox_rootfs_tar()
    results: dict[str, list[float]] = {k: [] for k in (
        "import busybox (cold)", "import busybox (same tar)", "resolve + layer_dirs",
        "save", "load (fresh root)")}
    for _ in range(n):
        base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
        try:
            with ImageStore(base / "a") as store:
                results["import busybox (cold)"].append(
                    timed(lambda s=store: s.import_tar(tar, "busybox")))
                results["import busybox (same tar)"].append(
                    timed(lambda s=store: s.import_tar(tar, "busybox:2")))
                results["resolve + layer_dirs"].append(
                    timed(lambda s=store: s.layer_dirs(s.resolve("busybox"))))
                results["save"].append(
                    timed(lambda s=store, x=base / "x.tar": save(s, ["busybox"], x)))
            with ImageStore(base / "b") as fresh:
                results["load (fresh root)"].append(
                    timed(lambda s=fresh, x=base / "x.tar": load(s, x)))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    print(f"image store, {n} runs each (ms)      min   median      max")
    for name, vals in results.items():
        print(f"  {name:<30} {min(vals):8.1f} {statistics.median(vals):8.1f} "
              f"{max(vals):8.1f}")

    big_tree = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    try:
        import tarfile

        big = base / "big.tar"
        with tarfile.open(big, "w") as t:
            t.add(big_tree, arcname="usr/lib/python", filter=lambda i: None
                  if "__pycache__" in i.name or "site-packages" in i.name else i)
        with tarfile.open(big) as t:
            entries = len(t.getmembers())
        with ImageStore(base / "big") as store:
            ms = timed(lambda: store.import_tar(big, "big"))
        print(f"import of a {big.stat().st_size / 1e6:.0f} MB tarball with {entries} entries "
              f"(the Python stdlib): {ms:.0f} ms, {entries / ms * 1000:.0f} entries/s")
    finally:
        shutil.rmtree(base, ignore_errors=True)

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    try:
        with ImageStore(base / "root") as store:
            root = store.import_tar(tar, "base")
            for name in ("app1", "app2"):
                step = base / name
                step.mkdir()
                (step / name).write_bytes(os.urandom(64 * 1024))
                with store.writing():
                    layer = store.add_layer_from_dir(step, parent_diff_ids=root.diff_ids)
                    store.add_child(root, layer=layer, created_by=f"COPY {name}",
                                    refs=[name])
            images = store.list()
            logical = sum(r.size for r in images)
            on_disk_layers = du(base / "root" / "layers")
            on_disk_blobs = du(base / "root" / "images" / "blobs")
            usage = store.disk_usage()
        print("dedupe: 3 images (base + two children adding 64 KiB each)")
        print(f"  sum of image sizes          {logical / 1e6:8.2f} MB")
        print(f"  unpacked layers on disk     {on_disk_layers / 1e6:8.2f} MB "
              f"({len(list((base / 'root' / 'layers').iterdir()))} layer dirs)")
        print(f"  blobs on disk               {on_disk_blobs / 1e6:8.2f} MB")
        print(f"  store total (df)            {usage.total_size / 1e6:8.2f} MB, "
              f"shared per child {usage.images[0].shared_size / 1e6:.2f} MB")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
