"""Blob transfers in parallel, where the first failure cancels the others.

Pull and push move layers through a small thread pool. Each task gets a shared
``threading.Event`` and checks it between chunks: once one task fails, or the
user presses Ctrl-C, the others stop at their next chunk instead of finishing
transfers whose result will be thrown away, and the first error is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


def run_cancellable(tasks: Sequence[Callable[[threading.Event], T]], *, max_concurrent: int,
                    name: str) -> list[T]:
    """Run ``tasks`` (each given the cancel event) at most ``max_concurrent`` at a time;
    their results in order, or the first failure once every task has stopped."""
    cancel = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, max_concurrent),
                            thread_name_prefix=name) as pool:
        futures = [pool.submit(task, cancel) for task in tasks]
        try:
            done, _pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: stop the workers at their next chunk, then leave
            cancel.set()
            raise
        failed = [f for f in done if f.exception() is not None]
        if failed:
            cancel.set()
            wait(futures)
            exc = failed[0].exception()
            assert exc is not None
            raise exc
    return [f.result() for f in futures]


__all__ = ["run_cancellable"]
