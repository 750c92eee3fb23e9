"""Build progress events: the builder reports, the CLI renders (plain, tty, quiet)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    def step(self, number: int, total: int, stage: str, text: str) -> None: ...
    def cached(self) -> None: ...
    def output(self, data: bytes) -> None: ...
    def done(self) -> None: ...
    def warning(self, text: str) -> None: ...


class NullProgress:
    def step(self, number: int, total: int, stage: str, text: str) -> None:
        pass

    def cached(self) -> None:
        pass

    def output(self, data: bytes) -> None:
        pass

    def done(self) -> None:
        pass

    def warning(self, text: str) -> None:
        pass
