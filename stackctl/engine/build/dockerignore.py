""".dockerignore: Docker's pattern rules as a pure matcher.

Rules (moby/patternmatcher, which the docker CLI and BuildKit share):

* one pattern a line; lines starting with ``#`` are comments; blank lines
  and surrounding blanks are ignored; a UTF-8 BOM is skipped;
* patterns are cleaned like paths (``./a//b/`` -> ``a/b``) and a leading
  ``/`` is dropped: every pattern is relative to the context root;
* ``*`` matches any run of characters except ``/``, ``?`` one character
  except ``/``, ``[...]`` a class, ``\\`` escapes; ``**`` matches any number
  of directories (including none), and a trailing ``**`` everything below;
* a path is excluded when it or one of its parent directories matches;
* ``!pattern`` re-includes what earlier patterns excluded; the LAST
  matching pattern wins.

The Dockerfile and ``.dockerignore`` are always readable by the builder even
when ignored (the CLI sends them regardless); ignoring them only hides them
from ``COPY``/``ADD``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import cached_property

__all__ = ["IgnorePattern", "Matcher", "parse_dockerignore"]

_ESCAPE_IN_REGEX = frozenset(".+()|{}$")


@dataclass(frozen=True)
class IgnorePattern:
    pattern: str  # cleaned, without the leading "!"
    exclusion: bool  # a "!" pattern that re-includes

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(_to_regex(self.pattern), re.DOTALL)

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _to_regex(pattern: str) -> str:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1  # "**/" is "**"
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch in _ESCAPE_IN_REGEX:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append("\\\\")
        elif ch == "[":
            end = pattern.find("]", i)
            if end < 0:
                out.append("\\[")
            else:
                body = pattern[i:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
        else:
            out.append(re.escape(ch))
    out.append("$")
    return "".join(out)


def parse_dockerignore(text: str | bytes) -> tuple[IgnorePattern, ...]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    patterns = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if line:
            line = posixpath.normpath(line)
            if len(line) > 1 and line.startswith("/"):
                line = line.lstrip("/") or "/"
        patterns.append(IgnorePattern(line, exclusion))
    return tuple(patterns)


@dataclass(frozen=True)
class Matcher:
    patterns: tuple[IgnorePattern, ...] = ()

    @classmethod
    def from_text(cls, text: str | bytes) -> Matcher:
        return cls(parse_dockerignore(text))

    @property
    def has_exclusions(self) -> bool:
        """With ``!`` patterns, an ignored directory may still hold included
        files, so a walker must descend into it."""
        return any(p.exclusion for p in self.patterns)

    def ignored(self, path: str) -> bool:
        """Is ``path`` (relative to the context, ``/``-separated) ignored?"""
        path = posixpath.normpath(path).lstrip("/")
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        matched = False
        for pattern in self.patterns:
            # An exclusion only matters once something matched, an inclusion
            # only until something did.
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit:
                for i in range(len(parents)):
                    if pattern.match("/".join(parents[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched
