"""The ``.env`` / ``env_file`` format, as compose-go's ``dotenv`` package reads it.

One statement per line, ``#`` comments, blank lines ignored::

    export KEY=value        # "export " is optional; ":" works like "="
    KEY = spaced value # c  # unquoted: trimmed, " #" starts a comment
    KEY='literal $X \\n'    # single quotes: verbatim (only \\' is unescaped)
    KEY="a\\nb ${X:-d}"     # double quotes: \\n \\t \\\\ \\" \\$ escapes, interpolation
    KEY='multi              # quoted values may span lines
    line'
    KEY                     # alone: the value from the environment, if any

Unquoted and double-quoted values are interpolated (see interpolate.py); a
name resolves to the process environment first, then to the keys defined
earlier in the same file. Keys are ``[A-Za-z0-9_.-[]]``; keys starting with a
digit are dropped when reading a file. A UTF-8 BOM is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from stackctl.errors import Location, SpecError
from stackctl.spec.interpolate import InterpolationError, Lookup, OnMissing, substitute

__all__ = ["DotenvError", "parse_dotenv", "read_dotenv"]

_SPACE = "\t\v\f\r \x85\xa0"  # spaces that are not line breaks
_EXPORT = re.compile(r"export[ \t]+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-7]{0,3})")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", '"': '"', "\\": "\\"}


class DotenvError(ValueError):
    """A malformed env file; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.bare = message
        self.line = line


def _no_lookup(_name: str) -> str | None:
    return None


class _Parser:
    def __init__(self, text: str, lookup: Lookup, on_missing: OnMissing | None) -> None:
        self.src = text
        self.i = 0
        self.line = 1
        self.lookup = lookup
        self.on_missing = on_missing
        self.out: dict[str, str] = {}

    def parse(self) -> dict[str, str]:
        while self._statement_start():
            self._statement()
        return self.out

    def _statement_start(self) -> bool:
        """Skip whitespace and comment lines; False at the end of the text."""
        src, n = self.src, len(self.src)
        while self.i < n:
            c = src[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
            elif c.isspace():
                self.i += 1
            elif c == "#":
                nl = src.find("\n", self.i)
                self.i = n if nl < 0 else nl
            else:
                return True
        return False

    def _statement(self) -> None:
        src = self.src
        m = _EXPORT.match(src, self.i)
        if m:
            self.i = m.end()
        start = self.i
        key, inherited = None, False
        for k in range(start, len(src)):
            c = src[k]
            if c in _SPACE:
                continue
            if c in "=:\n":
                key, inherited = src[start:k], c == "\n"
                self.i = k + 1
                break
            if not (c.isalnum() or c in "_.-[]"):
                first_line = src[start:].split("\n", 1)[0]
                raise DotenvError(
                    f'unexpected character "{c}" in variable name "{first_line}"', self.line)
        else:
            key, inherited = src[start:], True  # a last line without newline
            self.i = len(src)
        key = key.rstrip()
        if " " in key:
            raise DotenvError("key cannot contain a space", self.line)
        if inherited:
            if self.i <= len(src) and src[self.i - 1:self.i] == "\n":
                self.line += 1
            value = self.lookup(key)
            if value is not None:
                self.out[key] = value
            return
        while self.i < len(src) and src[self.i] in _SPACE:
            self.i += 1
        self.out[key] = self._value()

    def _value(self) -> str:
        src = self.src
        quote = src[self.i] if self.i < len(src) else ""
        if quote not in ("'", '"'):
            nl = src.find("\n", self.i)
            raw = src[self.i:] if nl < 0 else src[self.i:nl]
            self.i = len(src) if nl < 0 else nl + 1
            value = self._expand(raw.split(" #", 1)[0].rstrip())
            self.line += 1
            return value
        chars: list[str] = []
        escaped = False
        start_line = self.line
        for k in range(self.i + 1, len(src)):
            c = src[k]
            if c == "\n":
                self.line += 1
            if escaped:
                escaped = False
                # An escaped quote loses its backslash; other escapes keep it
                # for expand_escapes (double quotes) or verbatim (single).
                if c != quote:
                    chars.append("\\")
                chars.append(c)
            elif c == "\\":
                escaped = True
            elif c == quote:
                self.i = k + 1
                value = "".join(chars)
                if quote == '"':
                    value = self._expand(_expand_escapes(value))
                return value
            else:
                chars.append(c)
        first_line = src[self.i:].split("\n", 1)[0]
        raise DotenvError(f"unterminated quoted value {first_line}", start_line)

    def _expand(self, value: str) -> str:
        def lookup(name: str) -> str | None:
            found = self.lookup(name)
            return found if found is not None else self.out.get(name)

        try:
            return substitute(value, lookup, self.on_missing)
        except InterpolationError as exc:
            raise DotenvError(f"expanding variables: {exc.message}", self.line) from None
        except RecursionError:
            raise DotenvError("expanding variables: defaults nested too deeply",
                              self.line) from None


def _expand_escapes(value: str) -> str:
    def one(m: re.Match[str]) -> str:
        text = m.group(0)
        c = text[1]
        if c == "$":
            return "$$"  # a literal dollar for the interpolation that follows
        if c == "0":
            return chr(int(text[2:] or "0", 8))
        return _SIMPLE_ESCAPES.get(c, text)

    return _ESCAPE.sub(one, value)


def parse_dotenv(text: str, lookup: Lookup | None = None,
                 on_missing: OnMissing | None = None) -> dict[str, str]:
    """Parse env-file text. ``lookup`` resolves names from the environment
    (bare ``KEY`` lines and interpolation). Raises DotenvError."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return _Parser(text, lookup or _no_lookup, on_missing).parse()


def _parse_raw(text: str) -> dict[str, str]:
    """``format: raw``: ``KEY=VALUE`` lines taken literally (no quotes, no ``$``)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value
    return out


def read_dotenv(path: str | Path, lookup: Lookup | None = None,
                on_missing: OnMissing | None = None, *, format: str | None = None,
                ) -> dict[str, str]:
    """Read an env file; errors become SpecErrors naming file and line.

    Keys starting with a digit are dropped, as compose does."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError(f"env file {file} not found", location=Location(file),
                        hint="create it, or mark it `required: false` in env_file") from None
    except OSError as exc:
        raise SpecError(f"cannot read env file {file}: {exc.strerror}",
                        location=Location(file)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"env file is not UTF-8 text (byte {exc.start})",
                        location=Location(file)) from None
    if format == "raw":
        parsed = _parse_raw(text.removeprefix("\ufeff"))
    elif format in (None, "", "dotenv"):
        try:
            parsed = parse_dotenv(text, lookup, on_missing)
        except DotenvError as exc:
            raise SpecError(exc.bare, location=Location(file, exc.line),
                            hint="each line must be KEY=VALUE, KEY, or a # comment") from None
    else:
        raise SpecError(f"unsupported env_file format {format!r}", location=Location(file),
                        hint="use format: raw, or leave it out")
    return {k: v for k, v in parsed.items() if not k[:1].isdigit()}

