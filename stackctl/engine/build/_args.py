"""Per-instruction argument splitting of the parser (BuildKit's line parsers).

Each instruction keeps its arguments in the form BuildKit gives them to the
typed layer: quotes and escapes are kept, nothing is expanded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

__all__ = ["ArgError", "split_arguments", "split_command"]

_TOKEN_WS = re.compile(r"[\t\v\f\r ]+")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


class ArgError(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class _NotStrings(ArgError):
    pass


def split_command(line: str) -> tuple[str, list[str], str]:
    """``RUN --mount=x echo hi`` -> ("run", ["--mount=x"], "echo hi")."""
    parts = _TOKEN_WS.split(line.strip(), maxsplit=1)
    cmd = parts[0].lower()
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1])
    return cmd, flags, rest.strip()


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--name[=value]`` words; ``--`` ends them. Quotes and
    backslashes inside a flag are removed."""
    words: list[str] = []
    word: list[str] = []
    blank_ok = False
    quote = ""
    phase = "spaces"
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = "word"
        text = "".join(word)
        if pos == n:  # in a word or a quote
            if text != "--" and (blank_ok or text):
                words.append(text)
            break
        if phase == "word":
            if ch.isspace():
                phase = "spaces"
                if text == "--":
                    return line[pos:], words
                if blank_ok or text:
                    words.append(text)
                word = []
                blank_ok = False
            elif ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
        else:  # in a quote
            if ch == quote:
                phase = "word"
            elif ch == "\\":
                if pos + 1 == n:
                    phase = "word"
                else:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
        pos += 1
    return "", words


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on blanks, keeping quotes and escapes (ENV, LABEL, ARG)."""
    words: list[str] = []
    word: list[str] = []
    phase = "spaces"
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or word:
                words.append("".join(word))
            break
        if phase == "word":
            if ch.isspace():
                phase = "spaces"
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue  # an escape at the very end is dropped
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
        else:
            if ch == quote:
                phase = "word"
            if ch == escape and quote != "'":
                if pos + 1 == n:
                    phase = "word"
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
        pos += 1
    return words


def _name_val(cmd: str, rest: str, escape: str) -> list[str]:
    """ENV/LABEL: ``k v`` (legacy, one pair) or ``k=v k2=v2``; each pair is
    dumped as key, value, separator."""
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            upper = cmd.upper()
            raise ArgError(
                f"{upper} must have two arguments",
                hint=f"write '{upper} {parts[0]}=<value>' or '{upper} {parts[0]} <value>'",
            )
        return [parts[0], parts[1], ""]
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise ArgError(
                f"Syntax error - can't find = in {json.dumps(word)}. "
                "Must be of the form: name=value",
                hint="quote values with spaces: KEY=\"two words\"",
            )
        key, value = word.split("=", 1)
        out += [key, value, "="]
    return out


def _whitespace(rest: str) -> list[str]:
    return _WHITESPACE.split(rest) if rest else []


def _json(rest: str) -> list[str] | None:
    """The JSON array form, or None if ``rest`` is not a JSON array."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(rest)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise _NotStrings(
            "when using JSON array syntax, arrays must be comprised of strings only",
            hint='write every element as a JSON string: ["a", "b"]',
        )
    return value


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if rest == "":
        return [], False
    parsed = _json(rest)
    if parsed is None:
        return [rest], False
    return parsed, True


def _maybe_json_list(rest: str) -> tuple[list[str], bool]:
    parsed = _json(rest)
    if parsed is None:
        return _whitespace(rest), False
    return parsed, True


def _health(rest: str) -> tuple[list[str], bool]:
    sep = 0
    while sep < len(rest) and not rest[sep].isspace():
        sep += 1
    if sep == 0:
        return [], False
    nxt = sep
    while nxt < len(rest) and rest[nxt].isspace():
        nxt += 1
    cmd, is_json = _maybe_json(rest[nxt:])
    return [rest[:sep], *cmd], is_json


_SPLITTERS: dict[str, Callable[[str, str, str], tuple[list[str], bool]]] = {
    "add": lambda c, r, e: _maybe_json_list(r),
    "copy": lambda c, r, e: _maybe_json_list(r),
    "volume": lambda c, r, e: _maybe_json_list(r),
    "arg": lambda c, r, e: (parse_words(r, e), False),
    "cmd": lambda c, r, e: _maybe_json(r),
    "entrypoint": lambda c, r, e: _maybe_json(r),
    "run": lambda c, r, e: _maybe_json(r),
    "shell": lambda c, r, e: _maybe_json(r),
    "env": lambda c, r, e: (_name_val(c, r, e), False),
    "label": lambda c, r, e: (_name_val(c, r, e), False),
    "expose": lambda c, r, e: (_whitespace(r), False),
    "from": lambda c, r, e: (_whitespace(r), False),
    "healthcheck": lambda c, r, e: _health(r),
    "maintainer": lambda c, r, e: ([r] if r else [], False),
    "stopsignal": lambda c, r, e: ([r] if r else [], False),
    "user": lambda c, r, e: ([r] if r else [], False),
    "workdir": lambda c, r, e: ([r] if r else [], False),
}


def split_arguments(cmd: str, rest: str, escape: str) -> tuple[list[str], bool, str | None]:
    """(args, is_json, onbuild_trigger_line) for one instruction."""
    if cmd == "onbuild":
        return [], False, (rest or None)
    splitter = _SPLITTERS.get(cmd)
    if splitter is None:
        return [], False, None  # unknown: the typed layer reports it
    args, is_json = splitter(cmd, rest, escape)
    return args, is_json, None
