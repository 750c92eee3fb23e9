"""Build progress events: the builder reports, the CLI renders (plain, tty, quiet).

``step(vertex, stage, index, count, text)`` opens BuildKit's ``#vertex [stage
index/count] text``: vertices are numbered across the build, ``index/count``
within the stage, whose first step is its FROM. ``cached`` or ``done`` closes
it; ``output`` is a line a RUN printed meanwhile."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    def step(self, vertex: int, stage: str, index: int, count: int, text: str) -> None: ...
    def cached(self) -> None: ...
    def output(self, data: bytes) -> None: ...
    def done(self) -> None: ...
    def warning(self, text: str) -> None: ...


class NullProgress:
    def step(self, vertex: int, stage: str, index: int, count: int, text: str) -> None:
        pass

    def cached(self) -> None:
        pass

    def output(self, data: bytes) -> None:
        pass

    def done(self) -> None:
        pass

    def warning(self, text: str) -> None:
        pass
