"""PyYAML made to read YAML the way Go's yaml.v3 does (the YAML 1.2 core schema).

Compose reads YAML with yaml.v3: only ``true``/``false`` (any case form of
those) are booleans, ``on``/``yes``/``no`` stay strings, ``80:80`` is a string
(YAML 1.1 would read it as the base-60 integer 4880), ``0777`` is octal and
``1_000`` is 1000. PyYAML implements YAML 1.1, so ``Loader`` only builds the
node graph (with libyaml's C parser when available) and marks plain scalars
with ``PLAIN_TAG``; ``resolve_plain`` gives them their 1.2 value.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

try:  # libyaml's parser is several times faster; fall back to the pure one.
    from yaml._yaml import CParser as _Parser  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)

PLAIN_TAG = "?plain"  # tag given to untagged plain scalars; resolved by resolve_plain
STR_TAGS = frozenset({"tag:yaml.org,2002:str", "!"})  # explicit strings: `!!str x`, `! x`


class _Resolver(yaml.resolver.BaseResolver):
    """Tags only by node kind; plain scalars are marked for ``resolve_plain``."""

    # No path resolvers: skip the bookkeeping the parser calls for every node.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return PLAIN_TAG if implicit[0] else "tag:yaml.org,2002:str"
        if kind is SequenceNode:
            return "tag:yaml.org,2002:seq"
        return "tag:yaml.org,2002:map"


class Loader(_Parser, _Resolver):  # type: ignore[misc,valid-type,unused-ignore]
    """Composes nodes only (``check_node`` / ``get_node``); values are built by the caller."""

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Resolver.__init__(self)


NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INFS = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NANS = {".nan", ".NaN", ".NAN"}
# Go's strconv.ParseInt(s, 0, 64) after yaml.v3 removed underscores.
_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def resolve_plain(text: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema, the way yaml.v3 reads it."""
    if text in NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    first = text[0]
    if first.isdigit() or first in "+-.":
        if text in _INFS:
            return math.inf
        if text in {"-.inf", "-.Inf", "-.INF"}:
            return -math.inf
        if text in _NANS:
            return math.nan
        plain = text.replace("_", "")
        if _INT.fullmatch(plain):
            return parse_int(plain)
        if _FLOAT.fullmatch(plain):
            return float(plain)
    return text


def parse_int(text: str) -> int:
    """An integer in any base yaml.v3 accepts (underscores already removed)."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and body[1] in "0123456789":
        return sign * int(body, 8)  # YAML 1.1 style octal, still accepted by yaml.v3
    return sign * int(body, 0)


__all__ = ["NULLS", "PLAIN_TAG", "STR_TAGS", "Loader", "parse_int", "resolve_plain"]
