"""The engine's side of starting monitors: exec a new one, or have a group's live
monitor adopt the containers (the monitor's side is monitor_group.py).

``start_monitored`` returns one ready message per container, in the order
given: ``{"id", "ok": true, "pid"}`` or ``{"id", "ok": false, "error", ...}``;
``"unknown": true`` when a live monitor holds it but did not answer (so the
caller must not release what the container holds).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path

from stackctl.engine import oci
from stackctl.engine.state import StateStore

TYPE_CHECKING = False  # typing costs ~3 ms at start-up; annotations only
if TYPE_CHECKING:
    from typing import Any

    _Msgs = list[dict[str, Any]]

ADOPT_TIMEOUT = 120.0  # a start is a runtime run: seconds at worst, even on a loaded host


def start_monitored(root: Path, run_root: Path, ids: list[str], *, hold: bool,
                    group: str | None, store: StateStore | None = None) -> _Msgs:
    """Start ``ids`` under a monitor: ``group``'s live one, else a new one. With
    ``store``, the records name a spawned monitor as soon as it exists."""
    if group is None or hold:
        return spawn_monitor(root, run_root, ids, hold=hold, store=store)
    sock = group_sock(root, run_root, group)
    msgs = adopt(sock, ids, store)
    if msgs is not None:
        return msgs
    # No live monitor took them: start one, under the group's lock so that two
    # concurrent starts of one stack do not both spawn a monitor.
    import fcntl

    sock.parent.mkdir(parents=True, exist_ok=True)
    with open(sock.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        msgs = adopt(sock, ids, store)
        if msgs is None:
            msgs = spawn_monitor(root, run_root, ids, hold=False, group=sock, store=store)
    return msgs


def group_sock(root: Path, run_root: Path, group: str) -> Path:
    from stackctl.hashing import sha256_hex

    # hashed: a project name may be long, and sun_path holds 108 bytes
    key = sha256_hex(f"{root}\0{group}".encode())[:16]
    return run_root / "m" / f"{key}.sock"


def spawn_monitor(root: Path, run_root: Path, ids: list[str], *, hold: bool,
                  group: Path | None = None, store: StateStore | None = None) -> _Msgs:
    """Exec one monitor for ``ids`` (listening on ``group`` for more, when given)."""
    import subprocess

    paths = oci.ContainerPaths(root, run_root, ids[0])
    for cid in ids:
        oci.ContainerPaths(root, run_root, cid).state_dir.mkdir(parents=True, exist_ok=True)
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    argv = [*oci.stdlib_python("stackctl.engine.monitor"), "--root", str(root),
            "--run-root", str(run_root), "--ready-fd", str(w), "--go-fd", str(go_r)]
    if hold:
        argv.append("--hold")
    if group is not None:
        argv += ["--group", str(group)]
    with open(paths.monitor_log, "ab") as errlog:
        try:
            proc = subprocess.Popen([*argv, *ids], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=errlog,
                                    pass_fds=(w, go_r), start_new_session=True)
        finally:
            os.close(w)
            os.close(go_r)
    # The records name the monitor before it may touch them: should we die now, a
    # second start finds it and waits (Engine._settled); should we die before this,
    # the monitor reads EOF on --go-fd and leaves without a trace.
    try:
        _name_monitor(store, ids, proc.pid)
        os.write(go_w, b"g")
    finally:
        os.close(go_w)
    with os.fdopen(r, "rb") as f:
        got = ready_lines(f, len(ids))
    del proc  # the monitor outlives us; it is reaped by init once we exit
    tail = ""
    if len(got) < len(ids):
        tail = paths.monitor_log.read_text(errors="replace")[-2000:].strip()
    return [got.get(cid) or {"id": cid, "ok": False,
                             "error": f"the monitor failed to start: {tail}"} for cid in ids]


def adopt(sock: Path, ids: list[str], store: StateStore | None = None) -> _Msgs | None:
    """Ask the group monitor listening on ``sock`` to adopt ``ids``; None when there
    is none, or it took none of them (it was exiting)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(sock))
        pid, _uid, _gid = struct.unpack("3i", s.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    except OSError:
        s.close()
        return None
    got: dict[str, dict[str, Any]] = {}
    s.settimeout(ADOPT_TIMEOUT)
    try:
        _name_monitor(store, ids, pid)  # before asking: as in spawn_monitor
        s.sendall(json.dumps({"op": "adopt", "ids": ids}).encode() + b"\n")
        with s.makefile("rb") as f:
            ready_lines(f, len(ids), got)
    except TimeoutError:  # it has them, but hangs: neither start nor release them again
        return [got.get(cid) or {"id": cid, "ok": False, "exit_code": 125, "unknown": True,
                                 "error": "the stack's monitor did not answer"} for cid in ids]
    except OSError:
        pass
    finally:
        s.close()
    if not got:
        return None
    return [got.get(cid) or {"id": cid, "ok": False,
                             "error": "the stack's monitor exited while starting it"}
            for cid in ids]


def _name_monitor(store: StateStore | None, ids: list[str], pid: int) -> None:
    if store is None:
        return
    start = oci.proc_start_time(pid)
    with store.transaction() as db:
        db.executemany("UPDATE containers SET monitor_pid=?, monitor_start=? WHERE id=?",
                       [(pid, start, cid) for cid in ids])


def ready_lines(f: Any, count: int, got: dict[str, dict[str, Any]] | None = None
                ) -> dict[str, dict[str, Any]]:
    """Up to ``count`` ready messages (JSON lines) by container id, until EOF, into
    ``got`` (which keeps what came when reading fails half-way)."""
    got = {} if got is None else got
    while len(got) < count:
        line = f.readline()
        if not line:
            break
        msg = dict(json.loads(line))
        got[str(msg.get("id"))] = msg
    return got


def is_group_monitor(pid: int | None) -> bool:
    """Is ``pid`` a monitor shared by a group (started with ``--group``)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"\0--group\0" in f.read()
    except OSError:
        return False


__all__ = ["adopt", "group_sock", "is_group_monitor", "ready_lines", "spawn_monitor",
           "start_monitored"]
