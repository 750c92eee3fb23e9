"""The launcher's two fork paths (runtime/forkserver.py), on `launch state`, which
needs no privileges: the fork server over its socket, and fork_launcher from a
single-threaded process. Each child gets the given stdio and exits with the
launcher's status, as an exec'd launcher would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from stackctl.engine import oci


def _state_files(root: Path, cid: str, pid: int) -> None:
    (root / cid).mkdir(parents=True)
    (root / cid / "state.json").write_text(json.dumps(
        {"ociVersion": "1.0.2", "id": cid, "pid": pid, "bundle": "/b", "created": 1.0,
         "starttime": None}))


def _read(fd: int) -> str:  # to EOF
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


_FORK_SCRIPT = """
import json, os, sys, threading
from stackctl.engine.runtime import forkserver
argv, with_thread = json.loads(sys.argv[1]), sys.argv[2] == "1"
stop = threading.Event()
if with_thread:
    threading.Thread(target=stop.wait).start()
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
null = os.open(os.devnull, os.O_RDONLY)
pid = forkserver.fork_launcher(argv, "/", (null, out_w, err_w))
stop.set()
for fd in (null, out_w, err_w):
    os.close(fd)
def read(fd):
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data.decode()
out, err = read(out_r), read(err_r)
code = None if pid is None else os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps([code, out, err]))
"""


def _run_forked(argv: list[str], *, with_thread: bool = False) -> tuple[int | None, str, str]:
    """fork_launcher in a fresh interpreter (pytest's own threads must not matter)."""
    res = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, json.dumps(argv),
                          "1" if with_thread else "0"], capture_output=True, text=True,
                         check=True)
    code, out, err = json.loads(res.stdout)
    return code, out, err


def test_fork_launcher_runs_the_launcher_with_its_stdio(tmp_path: Path) -> None:
    _state_files(tmp_path, "c1", os.getpid())
    code, out, err = _run_forked(["--root", str(tmp_path), "state", "c1"])
    assert (code, err) == (0, "")
    assert json.loads(out)["id"] == "c1"
    code, out, err = _run_forked(["--root", str(tmp_path), "state", "nope"])
    assert code == 1 and "does not exist" in err and out == ""


def test_fork_launcher_refuses_a_process_with_threads(tmp_path: Path) -> None:
    _state_files(tmp_path, "c1", os.getpid())
    assert _run_forked(["--root", str(tmp_path), "state", "c1"], with_thread=True) == (
        None, "", "")


def test_fork_server_protocol(tmp_path: Path) -> None:
    _state_files(tmp_path, "c2", os.getpid())
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server = subprocess.Popen(oci.forkserver_argv(theirs.fileno()), pass_fds=(theirs.fileno(),))
    theirs.close()
    out_r, out_w = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        req = {"tag": 7, "argv": ["--root", str(tmp_path), "state", "c2"], "cwd": "/"}
        socket.send_fds(ours, [json.dumps(req).encode()], [null, out_w, out_w])
        os.close(out_w)
        replies = [json.loads(ours.recv(4096)) for _ in range(2)]
        assert replies[0]["tag"] == 7 and replies[0]["pid"] > 0
        assert replies[1] == {"tag": 7, "exit": 0}
        assert json.loads(_read(out_r))["id"] == "c2"
    finally:
        os.close(null)
        ours.close()  # the server exits once its end closes and its children are done
    assert server.wait(timeout=10) == 0
