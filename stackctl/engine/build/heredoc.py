"""Heredocs in RUN, COPY and ADD (``<<EOF``, ``<<-EOF``, ``<<'EOF'``, ``3<<EOF``).

The parser finds heredoc words on an instruction's line, then reads each
body from the following lines up to its terminator. A quoted delimiter
(``<<'EOF'`` or ``<<"EOF"``, even partly quoted) turns expansion of the body
off; ``<<-`` strips leading tabs from the terminator line (and, when the body
is used, from every body line).
"""

from __future__ import annotations

import re

from stackctl.engine.build.shell import Lex, ShellError
from stackctl.errors import DockerfileParseError
from stackctl.lightdc import dataclass, replace

__all__ = ["Heredoc", "chomp", "heredocs_in_line", "parse_heredoc", "read_heredoc_bodies"]

_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False
    fd: int = 0


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word opens, or None. Raises ShellError on ``<<'EOF``."""
    match = _HEREDOC.match(word)
    if match is None or not match.group(3):
        return None
    rest = match.group(3)
    words = Lex(skip_unset=True).process_words(rest, {})
    if len(words) != 1:
        return None
    raw = Lex(skip_unset=True, raw_quotes=True).process_words(rest, {})
    # Quotes that disappear when quotes are processed mean the delimiter was
    # (partly) quoted: the body is then taken literally.
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=words[0],
        expand=quotes == raw_quotes,
        chomp=match.group(2) == "-",
        fd=int(match.group(1) or 0),
    )


def heredocs_in_line(line: str) -> list[Heredoc]:
    lex = Lex(raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lex.process_words(line, {})
    except ShellError:
        return []
    out = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            out.append(doc)
    return out


def read_heredoc_bodies(
    docs: list[Heredoc], lines: list[str], i: int, *, file: str, start: int
) -> tuple[tuple[Heredoc, ...], int]:
    """Read each heredoc's body from ``lines[i:]``; returns them and the index
    of the first line after the last terminator."""
    out = []
    for doc in docs:
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise DockerfileParseError(
                    f"unterminated heredoc {doc.name}", file=file, line=start,
                    hint=f"end the heredoc with a line containing only {doc.name}",
                )
            line = lines[i]
            i += 1
            candidate = line.rstrip("\r\n")
            if doc.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                break
            body.append(line)
        out.append(replace(doc, content="".join(body)))
    return tuple(out), i


def chomp(content: str) -> str:
    """Strip leading tabs from every line (``<<-``)."""
    return _LEADING_TABS.sub("", content)
