"""Where a command's time goes: ``STACKCTL_TIMELINE=FILE`` makes every process of
a command (the CLI, its monitor, the launcher, the container's init before it
execs) append one line per phase boundary to FILE::

    <CLOCK_MONOTONIC ms> <pid> <event>

bench/run_latency.py reads it for its per-phase breakdown of a real run. Without
the variable, ``mark`` is one global check. Stdlib only, and small: the launcher
and the container's init import it too.
"""

from __future__ import annotations

import os
import time

_path = os.environ.get("STACKCTL_TIMELINE")
# opened once: the container's init marks events after pivot_root, where the path
# no longer resolves (and close_fds closes it before the exec)
_fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644) \
    if _path else -1
_file = (os.fstat(_fd).st_dev, os.fstat(_fd).st_ino) if _fd >= 0 else None


def mark(event: str) -> None:
    if _fd >= 0:
        try:
            st = os.fstat(_fd)
            if (st.st_dev, st.st_ino) != _file:
                return  # closed, and its number reused for another file: never write there
            os.write(_fd, f"{time.monotonic() * 1000:.3f} {os.getpid()} {event}\n".encode())
        except OSError:
            pass


__all__ = ["mark"]
