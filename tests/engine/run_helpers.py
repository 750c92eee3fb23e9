"""What the tests of run's runtime flags share (tests/engine/test_run_*.py): both
parsers, a created container's HostConfig, and a stack brought up to read what
its containers print."""

from __future__ import annotations

import json

from stackctl.engine.api import Engine
from tests.engine.conftest import Cli
from tests.scheduler.stackenv import StackEnv

# Through the fast path, and through typer (a flag-like value sends the line there).
PARSERS: tuple[list[str], ...] = ([], ["--label", "-x=y"])


def host_config(cli: Cli, *flags: str) -> dict[str, object]:
    """``inspect``'s HostConfig of a container created with ``flags`` (then removed)."""
    made = cli("create", *flags, "busybox", check=True).stdout.strip()
    try:
        out = cli("inspect", "--format", "{{json .HostConfig}}", made, check=True).stdout
        return dict(json.loads(out))
    finally:
        cli("rm", made, check=True)


def stack_output(stack: StackEnv, *services: str) -> list[str]:
    """Bring the stack up once, wait for each service's container, return their outputs."""
    stack.ok("up", "-d")
    out = []
    with Engine(stack.root, stack.run_root) as eng:
        for service in services:
            cid = stack.ids()[f"{stack.project}-{service}-1"]
            assert eng.wait(cid) == 0
            out.append("".join(e.log for e in eng.logs(cid)))
    return out
