"""Physical-line helpers of the Dockerfile parser (BuildKit's rules)."""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "continuation",
    "is_comment",
    "split_keep_ends",
    "trim_comment",
    "trim_continuation",
    "trim_newline",
]

_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def split_keep_ends(source: str) -> list[str]:
    """Split on ``\\n`` only (not on other Unicode breaks), keeping the ends:
    heredoc bodies keep their exact line endings."""
    return _LINE.findall(source)


def trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def is_comment(line: str) -> bool:
    return trim_newline(line).lstrip().startswith("#")


def trim_comment(text: str) -> str:
    """A line whose first character is ``#`` is a comment; nothing else is
    (``RUN echo # not a comment`` keeps its ``#``)."""
    return "" if text.startswith("#") else text


@lru_cache(maxsize=4)
def continuation(escape: str) -> re.Pattern[str]:
    """The escape token as the last non-blank character, unless it is itself
    escaped; or alone on its line."""
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*$|^{e}[ \t]*$")


def trim_continuation(line: str, regex: re.Pattern[str]) -> tuple[str, bool]:
    """Remove a trailing continuation; returns (text, line_is_complete)."""
    if regex.search(line):
        return regex.sub(r"\1", line, count=1), False
    return line, True
