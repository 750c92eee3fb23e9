"""A stack under test: a stack file in a temp dir, the CLI run in-process on the
test's own state root, engine reads for assertions, and a cleanup that removes
everything the stack made even when the test failed."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stackctl.cli.app import main
from stackctl.engine.api import Engine

TIMEOUT = 240  # seconds any one command may take

# Commands that stop at once on SIGTERM (a shell as PID 1 ignores it otherwise).
FOREVER = '["sh", "-c", "trap \'exit 0\' TERM; sleep 3600 & wait"]'


@dataclass
class Result:
    code: int
    out: str
    err: str


class StackEnv:
    def __init__(self, root: Path, run_root: Path, workdir: Path, project: str,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.root, self.run_root, self.dir, self.project = root, run_root, workdir, project
        self.capsys = capsys
        self.file = workdir / "compose.yaml"

    def write(self, text: str) -> None:
        self.file.write_text(textwrap.dedent(text).replace("FOREVER", FOREVER))

    def cli(self, *args: str, project: bool = True) -> Result:
        self.capsys.readouterr()
        argv = ["--root", str(self.root), "--run-root", str(self.run_root)]
        cmd, *rest = args
        argv.append(cmd)
        if project:
            argv += ["-f", str(self.file), "-p", self.project]
        argv += rest
        import os
        import signal
        import sys

        saved = sys.stdin
        # as from a shell with </dev/null: a real descriptor (pytest's stdin has none)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - closed below

        def too_long(signum: int, frame: object) -> None:
            raise TimeoutError(f"stackctl {' '.join(args)} took more than {TIMEOUT}s")

        old = signal.signal(signal.SIGALRM, too_long)
        signal.alarm(TIMEOUT)  # a hung command fails its test instead of the whole run
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
            sys.stdin.close()
            sys.stdin = saved
        out, err = self.capsys.readouterr()
        return Result(code, out, err)

    def ok(self, *args: str, project: bool = True) -> Result:
        r = self.cli(*args, project=project)
        assert r.code == 0, f"{args} exited {r.code}\n{r.out}\n{r.err}"
        return r

    def compose(self, *args: str) -> Result:
        """``stackctl compose -f FILE -p PROJECT ARGS...``, which must succeed."""
        return self.ok("compose", "-f", str(self.file), "-p", self.project, *args,
                       project=False)

    def containers(self) -> dict[str, Any]:
        with Engine(self.root, self.run_root) as eng:
            return {c.name: c for c in eng.list(all_=True)
                    if c.labels.get("stackctl.project") == self.project}

    def state(self, service: str) -> list[tuple[int, str]]:
        return sorted((int(c.labels["stackctl.number"]), str(c.status))
                      for c in self.containers().values()
                      if c.labels["stackctl.service"] == service
                      and c.labels.get("stackctl.oneoff") != "True")

    def ids(self) -> dict[str, str]:
        return {n: c.id for n, c in self.containers().items()}

    def networks(self) -> list[str]:
        from stackctl.net.manager import NetworkManager

        with NetworkManager(self.root, self.run_root) as nm:
            return [n.name for n in nm.networks()
                    if n.labels.get("stackctl.project") == self.project]

    def volumes(self) -> list[str]:
        with Engine(self.root, self.run_root) as eng:
            return [v.name for v in eng.volumes.list()
                    if v.labels.get("stackctl.project") == self.project]

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.cli("down", "-v", "--remove-orphans", "-t", "1")
        with Engine(self.root, self.run_root) as eng:
            for c in eng.list(all_=True):
                with contextlib.suppress(Exception):
                    eng.remove(c.id, force=True, volumes=True)
        with contextlib.suppress(Exception):
            from stackctl.net.manager import NetworkManager

            with NetworkManager(self.root, self.run_root) as nm:
                for n in nm.networks():
                    with contextlib.suppress(Exception):
                        nm.remove(n.name)


@pytest.fixture
def stack(busybox_image: tuple[Path, str], roots: tuple[Path, Path], tmp_path: Path,
          unique: str, capfd: pytest.CaptureFixture[str]) -> Iterator[StackEnv]:
    """A StackEnv on the test's own roots with busybox imported; cleaned up after.
    (Import it into a test module: ``from tests.scheduler.stackenv import stack``.)"""
    root, run_root = roots
    env = StackEnv(root, run_root, tmp_path, f"t{unique}", capfd)
    try:
        yield env
    finally:
        env.cleanup()
