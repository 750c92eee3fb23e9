""".dockerignore: Docker's pattern rules as a pure matcher.

Rules (moby/patternmatcher, which the docker CLI and BuildKit share):

* one pattern a line; lines starting with ``#`` are comments; blank lines
  and surrounding blanks are ignored; a UTF-8 BOM is skipped;
* patterns are cleaned like paths (``./a//b/`` -> ``a/b``) and a leading
  ``/`` is dropped: every pattern is relative to the context root;
* ``*`` matches any run of characters except ``/``, ``?`` one character
  except ``/``, ``[...]`` a class (``[^...]`` negated), ``\\`` escapes; ``**``
  matches any number of directories (including none), and a trailing ``**``
  everything below; a malformed pattern (``[``, ``[]a]``, ``[a-b-c]``) is an
  error, as is a lone ``!``;
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
from functools import cached_property

from stackctl.lightdc import dataclass

__all__ = ["IgnorePattern", "Matcher", "PatternError", "parse_dockerignore"]



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
    """Docker's translation to a regex; ``[...]`` classes pass through (the
    pattern was checked by ``_check`` first)."""
    out = ["^"]
    i = 0
    n = len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "\\":  # escapes the next character, in a class too
            if i < n:
                out.append("\\" + pattern[i] if pattern[i] in "]-^\\" else re.escape(pattern[i]))
                i += 1
            continue
        if in_class:
            if ch == "]":
                in_class = False
                out.append(ch)
            elif ch == "-" or (ch == "^" and out[-1] == "["):
                out.append(ch)
            else:
                out.append(re.escape(ch))
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1  # "**/" is "**"
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(ch))
    out.append("$")
    return "".join(out)


class PatternError(ValueError):
    pass


def _check(pattern: str) -> None:
    """Reject what Go's filepath.Match calls a bad pattern: unclosed or empty
    classes, misplaced ``-``, a trailing ``\\``."""

    def char(j: int) -> int:
        if j >= len(pattern) or pattern[j] in "-]":
            raise PatternError("bad character class")
        if pattern[j] == "\\":
            j += 1
            if j >= len(pattern):
                raise PatternError("trailing escape")
        if j + 1 >= len(pattern):
            raise PatternError("unclosed character class")
        return j + 1

    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise PatternError("trailing escape")
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            ranges = 0
            while True:
                if i < len(pattern) and pattern[i] == "]" and ranges:
                    i += 1
                    break
                i = char(i)
                if pattern[i] == "-":
                    i = char(i + 1)
                ranges += 1
            continue
        i += 1


def parse_dockerignore(text: str | bytes, *, file: str = ".dockerignore"
                       ) -> tuple[IgnorePattern, ...]:
    """Patterns of a .dockerignore; a bad pattern raises PatternError naming
    ``file`` and its line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    patterns = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
            if not line:
                raise PatternError(f'{file}:{number}: illegal exclusion pattern: "!"')
        line = posixpath.normpath(line)
        if len(line) > 1 and line.startswith("/"):
            line = line.lstrip("/") or "/"
        try:
            _check(line)
        except PatternError as exc:
            raise PatternError(f"{file}:{number}: syntax error in pattern {line!r}: {exc}"
                               ) from None
        patterns.append(IgnorePattern(line, exclusion))
    return tuple(patterns)


@dataclass(frozen=True)
class Matcher:
    patterns: tuple[IgnorePattern, ...] = ()

    @classmethod
    def from_text(cls, text: str | bytes, *, file: str = ".dockerignore") -> Matcher:
        return cls(parse_dockerignore(text, file=file))

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
