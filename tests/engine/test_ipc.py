"""``run --ipc``: the IPC namespace each mode gives, read from /proc/<pid>/ns/ipc on
the real kernel, /dev/shm shared with a joiner, and Docker's refusals."""

from __future__ import annotations

import json
import os

import pytest

from stackctl.engine.api import Engine
from tests.engine.conftest import Cli, eventually

pytestmark = pytest.mark.kernel


def _ns(engine: Engine, name: str) -> str:
    return os.readlink(f"/proc/{engine.get(name).pid}/ns/ipc")


def _ipc_mode(cli: Cli, name: str) -> str:
    return str(json.loads(cli("inspect", name, check=True).stdout)[0]["HostConfig"]["IpcMode"])


def test_ipc_modes(cli: Cli, engine: Engine, unique: str) -> None:
    donor, joiner, private, host = (f"{k}-{unique}" for k in ("donor", "join", "priv", "host"))
    cli("run", "-d", "--name", donor, "--network", "none", "--ipc", "shareable", "busybox",
        "sleep", "60", check=True)
    donor_id = engine.get(donor).id
    cli("run", "-d", "--name", joiner, "--network", "none", "--ipc", f"container:{donor}",
        "busybox", "sleep", "60", check=True)
    cli("run", "-d", "--name", private, "--network", "none", "busybox", "sleep", "60",
        check=True)
    cli("run", "-d", "--name", host, "--network", "none", "--ipc", "host", "busybox",
        "sleep", "60", check=True)

    assert _ns(engine, joiner) == _ns(engine, donor)
    assert _ns(engine, private) not in (_ns(engine, donor), os.readlink("/proc/self/ns/ipc"))
    assert _ns(engine, host) == os.readlink("/proc/self/ns/ipc")
    assert _ipc_mode(cli, donor) == "shareable"
    assert _ipc_mode(cli, joiner) == f"container:{donor_id}"  # stored by id, as compose shows
    assert _ipc_mode(cli, private) == "private"
    # POSIX shared memory is /dev/shm: the joiner sees the donor's
    cli("exec", donor, "sh", "-c", "echo shared > /dev/shm/x", check=True)
    assert cli("exec", joiner, "cat", "/dev/shm/x", check=True).stdout == "shared\n"
    assert cli("exec", private, "ls", "/dev/shm", check=True).stdout == ""
    # after a restart the joiner is back in the donor's namespace
    cli("restart", "-t", "1", joiner, check=True)
    assert _ns(engine, joiner) == _ns(engine, donor)


def test_ipc_refusals(cli: Cli, engine: Engine, unique: str) -> None:
    private = f"priv-{unique}"
    cli("run", "-d", "--name", private, "--network", "none", "busybox", "sleep", "60",
        check=True)
    r = cli("run", "--rm", "--network", "none", "--ipc", f"container:{private}", "busybox",
            "true")
    assert r.returncode != 0 and "non-shareable IPC" in r.stderr
    r = cli("run", "--rm", "--ipc", f"container:nope-{unique}", "busybox", "true")
    assert r.returncode != 0 and "no such container" in r.stderr
    r = cli("run", "--rm", "--ipc", "sideways", "busybox", "true")
    assert r.returncode != 0 and "--ipc 'sideways': invalid IPC mode" in r.stderr
    assert [c.name for c in engine.list(all_=True)] == [private]  # bad input left nothing


def test_ipc_none_has_no_dev_shm(cli: Cli) -> None:
    # docker: "none: own private IPC namespace, with /dev/shm not mounted"
    probe = ["busybox", "sh", "-c", "grep -c ' /dev/shm ' /proc/mounts; ls -d /dev/shm"]
    none = cli("run", "--rm", "--network", "none", "--ipc", "none", *probe)
    assert none.stdout.split()[0] == "0" and none.returncode != 0
    private = cli("run", "--rm", "--network", "none", *probe, check=True)
    assert private.stdout.split() == ["1", "/dev/shm"]


def test_a_restarted_joiner_joins_the_donors_current_namespace(cli: Cli, engine: Engine,
                                                               unique: str) -> None:
    # the bundle names the donor's namespace by pid; a restart policy's restart must
    # look again, or it joins a dead pid (or whatever process has it now)
    donor, joiner = f"ipcd-{unique}", f"ipcj-{unique}"
    cli("run", "-d", "--name", donor, "--network", "none", "--ipc", "shareable", "busybox",
        "sleep", "300", check=True)
    cli("run", "-d", "--name", joiner, "--network", "none", "--ipc", f"container:{donor}",
        "--restart", "always", "busybox", "sh", "-c", "sleep 0.5; exit 1", check=True)
    before = engine.get(donor).pid
    cli("restart", "-t", "0", donor, check=True)
    assert engine.get(donor).pid != before  # a new process: the old pid's path is dead
    # (its namespace is new too, though the kernel may give it the old one's inode
    # number when nothing held that one any more: compare by the donor's live pid)
    after = _ns(engine, donor)

    def joined_the_new_one() -> bool:
        rec = engine.get(joiner)
        try:
            return rec.restart_count >= 2 and rec.pid is not None and _ns(engine, joiner) == after
        except OSError:  # between two restarts
            return False

    eventually(joined_the_new_one, timeout=20, what="the joiner in the donor's new namespace")
    assert engine.get(joiner).error == ""
