"""Shell-word expansion for Dockerfile instructions (BuildKit's ``shell.Lex``).

Dockerfile values are not run through a shell; the builder expands them
itself, with a small, deliberately bash-like language:

* ``'...'`` keeps everything literally; ``"..."`` keeps everything except
  ``$`` expansions and the escapes ``\\"``, ``\\$`` and ``\\\\``;
* outside quotes the escape token (``\\`` or the ``# escape=`` one) makes the
  next character literal;
* ``$name`` / ``${name}`` and the modifiers ``${v:-w}`` ``${v-w}``
  ``${v:+w}`` ``${v+w}`` ``${v:?msg}`` ``${v?msg}``, ``${v#pat}``
  ``${v##pat}`` ``${v%pat}`` ``${v%%pat}``, ``${v/pat/repl}``
  ``${v//pat/repl}``; positional and special parameters (``$1``, ``$@``,
  ``$$``...) are never set in a Dockerfile and expand to nothing.

``process_word`` returns one string (quotes removed, inner spaces kept: ENV,
WORKDIR, USER...). ``process_words`` splits the result into words after
expansion, where only unquoted text that came from an expansion or the
source is split (COPY sources, EXPOSE...). Both also report which variable
names were looked up, which the build cache uses to know which build
arguments a step depends on.

The options exist for the heredoc detector of the parser: ``raw_quotes``
keeps quote characters, ``raw_escapes`` keeps escape tokens, and
``skip_unset`` leaves references to unset names untouched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from stackctl.lightdc import dataclass, field

__all__ = ["Expansion", "Lex", "ShellError"]

_EOF = ""
_SPECIAL = frozenset("@*#?-$!0")


class ShellError(ValueError):
    """An expansion that cannot be done; the message says why."""


@dataclass(frozen=True)
class Expansion:
    """The result of one expansion: the word(s) and the names looked up."""

    word: str
    words: tuple[str, ...]
    used: frozenset[str]  # names looked up that were set
    unset: frozenset[str]  # names looked up that were not set


class _Words:
    """Accumulates words: characters from expansions split on whitespace,
    characters from quotes or escapes never do."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.word: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append("".join(self.word))
                self.word = []
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word.append(text)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.word:
            joined = "".join(self.word)
            if joined:
                self.words.append(joined)
            self.word = []
            self.in_word = False
        return self.words


@dataclass
class _Scanner:
    text: str
    pos: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_unset: bool = False
    skip_quotes: bool = False
    used: set[str] = field(default_factory=set)
    unset: set[str] = field(default_factory=set)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        if self.pos >= len(self.text):
            return _EOF
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def lookup(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None:
            self.unset.add(name)
        else:
            self.used.add(name)
        return value

    # --- the grammar -----------------------------------------------------

    def until(self, stops: str, raw_escapes: bool | None = None) -> tuple[str, list[str]]:
        """Process up to (and consuming) one of ``stops``; EOF if empty."""
        saved = self.raw_escapes
        if raw_escapes is not None:
            self.raw_escapes = raw_escapes
        try:
            return self._until(stops)
        finally:
            self.raw_escapes = saved

    def _until(self, stops: str) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        while (ch := self.peek()) != _EOF:
            if stops and ch in stops:
                self.next()
                return "".join(out), words.result()
            if ch == "$":
                value = self.dollar()
                out.append(value)
                words.add_string(value)
            elif ch == "'" and not self.skip_quotes:
                value = self.single_quote()
                out.append(value)
                words.add_raw(value)
            elif ch == '"' and not self.skip_quotes:
                value = self.double_quote()
                out.append(value)
                words.add_raw(value)
            else:
                self.next()
                if ch == self.escape:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = self.next()
                    if ch == _EOF:  # a trailing escape is dropped
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stops:
            raise ShellError(
                f"unexpected end of statement while looking for matching {stops[-1]}"
            )
        return "".join(out), words.result()

    def single_quote(self) -> str:
        opening = self.next()
        out = [opening] if self.raw_quotes else []
        while True:
            ch = self.next()
            if ch == _EOF:
                raise ShellError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        opening = self.next()
        out = [opening] if self.raw_quotes else []
        while True:
            ch = self.peek()
            if ch == _EOF:
                raise ShellError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self.next()
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                following = self.peek()
                if following == _EOF:
                    continue  # a trailing escape is dropped
                if following in ('"', "$", self.escape):
                    if self.raw_escapes:
                        out.append(ch)
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        """A variable name: letters, digits, _; or all digits; or one special."""
        ch = self.peek()
        if ch == _EOF:
            return ""
        if ch.isdigit():
            start = self.pos
            while self.peek() != _EOF and self.peek().isdigit():
                self.next()
            return self.text[start : self.pos]
        if ch in _SPECIAL:
            return self.next()
        start = self.pos
        while (ch := self.peek()) != _EOF and (ch.isalnum() or ch == "_"):
            self.next()
        return self.text[start : self.pos]

    def dollar(self) -> str:
        self.next()  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value = self.lookup(name)
            if value is None:
                return "$" + name if self.skip_unset else ""
            return value
        self.next()  # the {
        first = self.peek()
        if first == _EOF:
            raise ShellError("syntax error: missing '}'")
        if first in "{}:":
            raise ShellError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == "}":
            value = self.lookup(name)
            if value is None:
                return "${" + name + "}" if self.skip_unset else ""
            return value
        if ch in (":", "+", "-", "?", "#", "%"):
            return self._modifier(name, ch)
        if ch == "/":
            return self._replace(name)
        if ch == _EOF:
            raise ShellError("syntax error: missing '}'")
        raise ShellError(f"unsupported modifier ({ch}) in substitution")

    def _modifier(self, name: str, ch: str) -> str:
        null_is_unset = ch == ":"
        op = ch
        if null_is_unset:
            op = self.next()
            if op not in ("+", "-", "?"):
                raise ShellError(f"unsupported modifier (:{op}) in substitution")
        pattern_op = op in ("#", "%")
        try:
            word, _ = self.until("}", raw_escapes=True if pattern_op else None)
        except ShellError:
            if self.peek() == _EOF:
                raise ShellError("syntax error: missing '}'") from None
            raise
        value = self.lookup(name)
        spelled = (":" if null_is_unset else "") + op
        if value is None and self.skip_unset:
            return "${" + name + spelled + word + "}"
        missing = value is None or (null_is_unset and value == "")
        if op == "-":
            return word if missing else str(value)
        if op == "+":
            return "" if missing else word
        if op == "?":
            if value is None:
                raise ShellError(f"{name}: {word or 'is not allowed to be unset'}")
            if missing:
                raise ShellError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        # ${v#pat} ${v##pat} ${v%pat} ${v%%pat}
        greedy = word.startswith(op)
        if greedy:
            word = word[1:]
        return _trim(value or "", word, suffix=op == "%", greedy=greedy, escape=self.escape)

    def _replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern, _ = self.until("/", raw_escapes=True)
        replacement, _ = self.until("}", raw_escapes=True)
        value = self.lookup(name)
        if value is None and self.skip_unset:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = re.compile(_pattern_to_regex(pattern, self.escape, greedy=True))
        count = 0 if replace_all else 1
        return regex.sub(lambda _m: replacement, value or "", count=count)


def _pattern_to_regex(pattern: str, escape: str, *, greedy: bool) -> str:
    """Translate a shell glob (``*``, ``?``, ``[...]``, escapes) to a regex."""
    out: list[str] = []
    i = 0
    star = ".*" if greedy else ".*?"
    while i < len(pattern):
        ch = pattern[i]
        if ch == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _trim(value: str, pattern: str, *, suffix: bool, greedy: bool, escape: str) -> str:
    regex = re.compile(_pattern_to_regex(pattern, escape, greedy=True), re.DOTALL)
    lengths = range(len(value) + 1)
    order = reversed(lengths) if greedy else lengths
    for n in order:
        part = value[len(value) - n :] if suffix else value[:n]
        if regex.fullmatch(part):
            return value[: len(value) - n] if suffix else value[n:]
    return value


@dataclass(frozen=True)
class Lex:
    """Expands words with ``escape`` as the escape token (``\\`` or ```)."""

    escape: str = "\\"
    raw_quotes: bool = False
    raw_escapes: bool = False
    skip_unset: bool = False
    skip_quotes: bool = False  # heredoc bodies: quotes are plain characters

    def expand(self, word: str, env: Mapping[str, str]) -> Expansion:
        scanner = _Scanner(
            word,
            env=env,
            escape=self.escape,
            raw_quotes=self.raw_quotes,
            raw_escapes=self.raw_escapes,
            skip_unset=self.skip_unset,
            skip_quotes=self.skip_quotes,
        )
        try:
            text, words = scanner.until("")
        except ShellError as exc:
            raise ShellError(f"failed to process {_go_quote(word)}: {exc}") from None
        return Expansion(text, tuple(words), frozenset(scanner.used), frozenset(scanner.unset))

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand ``word`` into one string (quotes removed, spaces kept)."""
        return self.expand(word, env).word

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """Expand ``word`` and split it into words after expansion."""
        return list(self.expand(word, env).words)


def _go_quote(text: str) -> str:
    from stackctl.engine.build.gostr import quote

    return quote(text)
