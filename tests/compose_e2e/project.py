"""A compose-e2e project under test: the scenario's testdata in a temp dir, the real
``stackctl`` CLI run as a subprocess on the test's own state root, and reads of the
engine for the assertions upstream makes through ``docker inspect``.

Upstream helpers and their equivalents here:

    ServiceState(svc, state)   -> p.state(svc) == [(1, state)] / p.states(svc)
    ReplicaNumbers(svc, ...)   -> p.numbers(svc)
    OneOffState(svc, state)    -> p.oneoffs(svc)
    Recreated / NotRecreated   -> compare p.ids() before and after
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.engine.api import Engine

IMAGE = "busybox:latest"
# The images the scenarios name; busybox has the same sh/echo/sleep/top/ping applets.
_IMAGE_LINE = re.compile(r"""(image:\s*)['"]?(?:alpine|bash|nginx)(?::[\w.-]+)?['"]?""")
_FROM_LINE = re.compile(r"^FROM\s+alpine\S*", re.MULTILINE)
_INLINE_FROM = re.compile(r"(?<=[:|\s])FROM alpine\b")
_FROM_LINE_BB = re.compile(rf"^FROM {IMAGE}$", re.MULTILINE)
# alpine has printenv, Debian's busybox-static has no such applet: a shell shim
# copied into the images built FROM it, for the Dockerfiles that call it.
_PRINTENV = r"""#!/bin/sh
[ $# -eq 0 ] && exec env
for name do eval "[ -n \"\${$name+x}\" ] && printf '%s\n' \"\$$name\""; done
"""
# One command must never hang the suite; generous, the machine may be loaded.
_TIMEOUT = 180


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        """Both streams, as upstream's OutputContains looks at both."""
        return self.out + self.err


class Project:
    def __init__(self, root: Path, run_root: Path, workdir: Path, name: str,
                 conformance: Path) -> None:
        self.root, self.run_root, self.dir, self.name = root, run_root, workdir, name
        self.testdata = conformance / "compose-e2e" / "testdata"
        self.file = workdir / "compose.yaml"

    # -- the scenario's files ------------------------------------------------------
    def load(self, test: str) -> None:
        """Copy ``testdata/<test>`` here with its images swapped for local busybox."""
        shutil.copytree(self.testdata / test, self.dir)
        for path in self.dir.rglob("*"):
            if path.name in ("compose.yaml", "Dockerfile"):
                text = _IMAGE_LINE.sub(rf"\g<1>{IMAGE}", path.read_text())
                text = _INLINE_FROM.sub(f"FROM {IMAGE}", text)  # dockerfile_inline
                text = _FROM_LINE.sub(f"FROM {IMAGE}", text)
                if path.name == "Dockerfile" and "printenv" in text:
                    shim = path.parent / "printenv"
                    shim.write_text(_PRINTENV)
                    shim.chmod(0o755)
                    text = _FROM_LINE_BB.sub(r"\g<0>\nCOPY printenv /usr/bin/printenv", text)
                path.write_text(text)

    # -- the CLI -------------------------------------------------------------------
    def _env(self, extra: dict[str, str] | None) -> dict[str, str]:
        # The caller's shell, minus any setting that would leak into the project.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("COMPOSE_", "STACKCTL_"))}
        env.update(extra or {})
        return env

    def stackctl(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """``stackctl --root R --run-root RR ARGS...`` (like upstream's ``docker ...``)."""
        argv = [sys.executable, "-m", "stackctl", "--root", str(self.root),
                "--run-root", str(self.run_root), *args]
        proc = subprocess.run(argv, cwd=self.dir, env=self._env(env), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def compose(self, *args: str, env: dict[str, str] | None = None,
                expect: int | None = 0) -> Result:
        """``stackctl compose -f compose.yaml -p NAME ARGS...``; checks the exit code
        unless ``expect`` is None."""
        r = self.stackctl("compose", "-f", str(self.file), "-p", self.name, *args, env=env)
        if expect is not None:
            assert r.code == expect, (f"compose {' '.join(args)} exited {r.code}, "
                                      f"not {expect}\n--- stdout\n{r.out}\n--- stderr\n{r.err}")
        return r

    # -- what the engine holds -----------------------------------------------------
    def containers(self) -> dict[str, Any]:
        with Engine(self.root, self.run_root) as eng:
            return {c.name: c for c in eng.list(all_=True)
                    if c.labels.get("stackctl.project") == self.name}

    def _service(self, service: str, oneoff: bool) -> list[Any]:
        return [c for c in self.containers().values()
                if c.labels.get("stackctl.service") == service
                and (c.labels.get("stackctl.oneoff") == "True") == oneoff]

    def states(self, service: str) -> list[tuple[int, str]]:
        """(replica number, state) of the service's containers, one-offs excluded."""
        return sorted((int(c.labels["stackctl.number"]), str(c.status))
                      for c in self._service(service, oneoff=False))

    def state(self, service: str) -> str:
        """The state of the service's only container (upstream's ServiceState)."""
        states = self.states(service)
        assert len(states) == 1, f"{service}: expected one container, found {states}"
        return states[0][1]

    def numbers(self, service: str) -> list[int]:
        return [n for n, _ in self.states(service)]

    def oneoffs(self, service: str) -> list[str]:
        return [str(c.status) for c in self._service(service, oneoff=True)]

    def ids(self) -> dict[str, str]:
        return {n: c.id for n, c in self.containers().items()}

    def cname(self, service: str, number: int = 1) -> str:
        return f"{self.name}-{service}-{number}"

    def _in_process(self, *args: str) -> int:
        """The same CLI run inside this process (no interpreter start: a teardown runs
        after every test), with this project's cwd and a clean environment restored."""
        from stackctl.cli.app import main

        saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
        clean, sink = self._env(None), io.StringIO()
        try:
            os.chdir(self.dir)
            os.environ.clear()  # computed before: _env reads os.environ
            os.environ.update(clean)
            sys.stdin = open(os.devnull)  # noqa: SIM115 - closed below
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                main(["--root", str(self.root), "--run-root", str(self.run_root), *args])
            return 0
        except SystemExit as exc:
            return int(exc.code or 0)
        finally:
            sys.stdin.close()
            sys.stdin = saved_stdin
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)

    # -- cleanup -------------------------------------------------------------------
    def cleanup(self) -> None:
        """Take everything down, even after a failure: down, then force-remove leftovers."""
        if self.file.exists():
            with contextlib.suppress(Exception):
                self._in_process("compose", "-f", str(self.file), "-p", self.name, "--profile",
                                 "*", "down", "-v", "--remove-orphans", "-t", "1")
        with Engine(self.root, self.run_root) as eng:
            for c in eng.list(all_=True):
                with contextlib.suppress(Exception):
                    eng.remove(c.id, force=True, volumes=True)
            for v in eng.volumes.list():
                with contextlib.suppress(Exception):
                    eng.volumes.remove(v.name, force=True)
        with contextlib.suppress(Exception):
            from stackctl.net.manager import NetworkManager

            with NetworkManager(self.root, self.run_root) as nm:
                for n in nm.networks():
                    with contextlib.suppress(Exception):
                        nm.remove(n.name)
