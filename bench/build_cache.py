"""Build cache figures: a 6-step Dockerfile on the busybox base.

Prints the cold build (nothing cached) and the fully cached rebuild, both as
the user runs them (``stackctl build``, a fresh process each time) and
in-process (``Builder.build``, no interpreter start-up). Budget for the
cached rebuild: 300 ms. Needs root (overlay mounts, runc).

Usage: .venv/bin/python bench/build_cache.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DOCKERFILE = """\
FROM busybox
ENV APP_HOME=/app
WORKDIR $APP_HOME
COPY requirements.txt ./
RUN mkdir -p /app/data && cat requirements.txt > /app/data/installed
COPY src/ ./src/
CMD ["sh", "-c", "ls /app/src"]
"""


def _context(base: Path) -> Path:
    ctx = base / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "requirements.txt").write_text("flask\nredis\n")
    for i in range(50):
        (ctx / "src" / f"module{i}.py").write_text(f"VALUE = {i}\n" * 20)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


CPU: list[float] = []  # CPU seconds (user+sys) of each CLI run, for loaded machines


def _cli(root: Path, run_root: Path, ctx: Path, *extra: str) -> float:
    argv = [sys.executable, "-m", "stackctl", "--root", str(root), "--run-root", str(run_root),
            "build", "-q", "-t", "bench:latest", *extra, str(ctx)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs

    from stackctl.engine.build.builder import Builder, BuildRequest
    from stackctl.engine.images.store import ImageStore
    from tests.images import busybox_rootfs_tar

    base = Path(tempfile.mkdtemp(prefix="stackctl-bench-build-"))
    try:
        root, run_root = base / "root", base / "run"
        root.mkdir()
        run_root.mkdir()
        with ImageStore(root) as store:
            store.import_tar(busybox_rootfs_tar(), "busybox")
        ctx = _context(base)

        cold = _cli(root, run_root, ctx)
        cached = [_cli(root, run_root, ctx) for _ in range(runs)]
        cached_cpu = CPU[-runs:]
        no_cache = _cli(root, run_root, ctx, "--no-cache")

        req = BuildRequest(ctx, DOCKERFILE.encode(), tags=("bench:latest",))
        inproc = []
        with ImageStore(root) as store:
            builder = Builder(store, run_root=run_root)
            for _ in range(runs):
                t0 = time.perf_counter()
                result = builder.build(req)
                inproc.append(time.perf_counter() - t0)
        assert result.cached == result.steps == 6

        (ctx / "src" / "module7.py").write_text("VALUE = 'changed'\n")
        one_change = _cli(root, run_root, ctx)

        def ms(x: float) -> str:
            return f"{x * 1000:.0f} ms"

        print("6-step Dockerfile on busybox (ENV, WORKDIR, COPY, RUN, COPY 50 files, CMD)")
        print(f"  cold build, stackctl build (fresh process):     {ms(cold)}")
        print(f"  --no-cache rebuild (fresh process):             {ms(no_cache)}")
        print(f"  fully cached rebuild, stackctl build, median:   "
              f"{ms(statistics.median(cached))}  (min {ms(min(cached))}, budget 300 ms)")
        print(f"  fully cached rebuild, CPU time of the process:  "
              f"{ms(statistics.median(cached_cpu))}")
        print(f"  fully cached rebuild, in-process, median:       "
              f"{ms(statistics.median(inproc))}")
        print(f"  one source file changed (last COPY reruns):     {ms(one_change)}")
        print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    finally:
        subprocess.run(["umount", "-R", "-l", str(base)], stderr=subprocess.DEVNULL,
                       check=False)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
