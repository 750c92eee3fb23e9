"""Cleanup of ended containers off the monitor's loop, one worker thread each.

A stack's monitor ends many containers at once on ``down``. Their cleanup is
mostly waiting on the kernel: deleting a veth blocks about 25 ms in netlink
while the kernel syncs, unmounting and removing cgroups add more. Done inline,
50 containers queue behind each other (over a second); on worker threads they
wait side by side. Each worker opens its own store connection (SQLite
connections are per thread); the loop hears each completion through a pipe and
only then tells the container's waiters, so that whoever hears an exit code can
still rely on the cleanup being done.

The monitor forks (forkserver.fork_launcher) only while it has no thread, and
otherwise starts a runtime with exec, so these threads are safe beside it. A
foreground ``run`` or a single container's monitor has nothing else to serve
while it cleans up: there (``inline``) the work runs on the loop with the loop's
own store, without a thread or a second connection. Stdlib only.
"""

from __future__ import annotations

import _thread  # not threading: its import is ~0.25 MiB of every monitor
import os
import selectors
import sys
from collections.abc import Callable
from pathlib import Path

from stackctl.engine.state import StateStore

Work = Callable[[StateStore], None]


class Releaser:
    def __init__(self, sel: selectors.BaseSelector, root: Path) -> None:
        self.sel = sel
        self.root = root
        self.inline: StateStore | None = None
        self._lock = _thread.allocate_lock()
        self._finished: list[Callable[[], None]] = []
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        sel.register(self._r, selectors.EVENT_READ, self._on_finished)

    def submit(self, work: Work, then: Callable[[], None]) -> None:
        """Run ``work`` on a worker thread; ``then`` on the loop once it is done
        (failed or not: the failure is reported on stderr, the monitor's log)."""
        def run() -> None:
            try:
                if self.inline is not None:
                    work(self.inline)
                else:
                    store = StateStore(self.root)
                    try:
                        work(store)
                    finally:
                        store.close()
            except Exception as exc:  # finish anyway: `ps` repairs what is left
                sys.stderr.write(f"monitor: cleanup failed: {exc}\n")
            with self._lock:
                self._finished.append(then)
            try:
                os.write(self._w, b".")
            except OSError:  # closed: the monitor is shutting down
                pass

        if self.inline is not None:
            run()  # ``then`` still runs from the loop, as after a worker
        else:
            _thread.start_new_thread(run, ())

    def _on_finished(self, events: int) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            finished, self._finished = self._finished, []
        for then in finished:
            then()

    def close(self) -> None:
        self.sel.unregister(self._r)
        os.close(self._r)
        os.close(self._w)


__all__ = ["Releaser"]
