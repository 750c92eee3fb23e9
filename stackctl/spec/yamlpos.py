"""YAML -> plain Python data plus where every key and item came from.

Compose reads YAML with Go's yaml.v3, i.e. the YAML 1.2 core schema: only
``true``/``false`` (any case form of those) are booleans, ``on``/``yes``/``no``
stay strings, ``80:80`` is a string (YAML 1.1 would read it as the base-60
integer 4880), ``0777`` is octal and ``1_000`` is 1000. PyYAML implements
YAML 1.1, so we let it build the node graph only (with libyaml's C parser
when available, and a resolver that just marks plain scalars) and resolve
scalars ourselves.

Besides the data, loading yields a ``Pos`` tree shaped like the data: each
mapping value's ``Pos`` holds the location of its key, each sequence item's
``Pos`` holds the location of the item. The pipeline (merge, extends,
include) moves data and ``Pos`` together; ``flatten`` turns the result into
the ``Positions`` table of the contract.

Compose's merge tags survive loading as markers: a ``!reset`` value becomes
``RESET`` and a ``!override`` value becomes ``Override(value)``; merge.py acts
on them and ``strip_markers`` removes what remains.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackctl.errors import Location, SpecError
from stackctl.spec.options import KeyPath, format_key_path

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


__all__ = [
    "RESET",
    "Document",
    "LocationTable",
    "Override",
    "Pos",
    "flatten",
    "load_documents",
    "load_yaml",
    "strip_markers",
]


class _ResetMarker:
    """The value of a ``!reset`` node: remove this key from what is merged into."""

    _instance: _ResetMarker | None = None

    def __new__(cls) -> _ResetMarker:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "RESET"


RESET = _ResetMarker()


@dataclass(frozen=True)
class Override:
    """A ``!override`` value: replaces what it is merged into instead of merging."""

    value: Any


Where = tuple[str, "int | None", "int | None"]  # (file, line, column), 1-based


class Pos:
    """Where a value came from. ``children`` mirrors the value's shape: a dict
    of key -> Pos for a mapping, a list of Pos for a sequence, else None.
    Mutable on purpose: it is a working structure the pipeline rewrites in step
    with the data; only the flattened ``Positions`` leaves the spec package.
    The place is kept as a plain tuple (``where``): a Location object per node
    would cost more than parsing; ``loc`` builds one when asked."""

    __slots__ = ("children", "where")

    def __init__(self, where: Where, children: dict[str, Pos] | list[Pos] | None = None,
                 ) -> None:
        self.where = where
        self.children = children

    @classmethod
    def of(cls, loc: Location, children: dict[str, Pos] | list[Pos] | None = None) -> Pos:
        return cls((loc.file, loc.line, loc.column), children)

    @property
    def loc(self) -> Location:
        return Location(*self.where)

    def __repr__(self) -> str:
        return f"Pos({self.loc}, {self.children!r})"

    def child(self, key: str | int) -> Pos:
        """The Pos of ``key``, or this one when the tree has no finer detail."""
        c = self.children
        if isinstance(c, dict) and isinstance(key, str):
            return c.get(key, self)
        if isinstance(c, list) and isinstance(key, int) and 0 <= key < len(c):
            return c[key]
        return self

    def at(self, path: KeyPath) -> Pos:
        node = self
        for part in path:
            node = node.child(part)
        return node


class LocationTable(Mapping[KeyPath, Location]):
    """``key path -> Location`` over a Pos tree. The tree is flattened on first
    use and each Location built only when looked up: a load that reports no
    error never pays for either."""

    def __init__(self, root: Pos, prefix: KeyPath = ()) -> None:
        self._root = root
        self._prefix = prefix
        self._flat: dict[KeyPath, Where] | None = None

    @property
    def _where(self) -> dict[KeyPath, Where]:
        if self._flat is None:
            self._flat = _flatten(self._root, self._prefix)
        return self._flat

    def __getitem__(self, path: KeyPath) -> Location:
        return Location(*self._where[path])

    def __contains__(self, path: object) -> bool:
        return path in self._where

    def __iter__(self) -> Iterator[KeyPath]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@dataclass
class Document:
    """One loaded file: data (a mapping, possibly with markers), its Pos tree."""

    file: str
    data: dict[str, Any]
    pos: Pos
    warnings: list[str] = field(default_factory=list)


_PLAIN = "?plain"  # tag given to untagged plain scalars; resolved by _resolve_plain


class _Resolver(yaml.resolver.BaseResolver):
    """Tags only by node kind; plain scalars are marked for ``_resolve_plain``."""

    # No path resolvers: skip the bookkeeping the parser calls for every node.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else "tag:yaml.org,2002:str"
        if kind is SequenceNode:
            return "tag:yaml.org,2002:seq"
        return "tag:yaml.org,2002:map"


class _Loader(_Parser, _Resolver):  # type: ignore[misc,valid-type,unused-ignore]
    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        _Resolver.__init__(self)


_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INFS = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NANS = {".nan", ".NaN", ".NAN"}
# Go's strconv.ParseInt(s, 0, 64) after yaml.v3 removed underscores.
_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _resolve_plain(text: str) -> Any:
    """A plain scalar's value under the YAML 1.2 core schema, the way yaml.v3 reads it."""
    if text in _NULLS:
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
            return _parse_int(plain)
        if _FLOAT.fullmatch(plain):
            return float(plain)
    return text


def _parse_int(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if len(body) > 1 and body[0] == "0" and body[1] in "0123456789":
        return sign * int(body, 8)  # YAML 1.1 style octal, still accepted by yaml.v3
    return sign * int(body, 0)


_STR_TAGS = frozenset({"tag:yaml.org,2002:str", "!"})


class _Builder:
    """Walks the node graph once. Hot path: a compose file is mostly short
    plain scalars, so scalars are resolved inline and the key path is a
    list pushed and popped as we go, turned into a tuple only for errors."""

    # Aliases are expanded by copying, so nested anchors can blow a small file up
    # exponentially ("billion laughs"). Like yaml.v3, refuse a document whose
    # values come almost all from alias expansion once it is large, and any
    # document past a hard cap.
    MAX_NODES = 1_000_000
    # Stack files nest a handful of levels; the pipeline walks recursively.
    MAX_DEPTH = 100
    ALIAS_CHECK_FROM = 10_000
    MAX_ALIAS_RATIO = 0.95

    def __init__(self, file: str) -> None:
        self.file = file
        self.path: list[str | int] = []
        self.active: set[int] = set()  # alias nodes being expanded, against recursion
        self.built: set[int] = set()  # collection nodes built once (again = an alias)
        self.nodes = 0
        self.aliased = 0  # nodes built while expanding an alias
        self.in_alias = 0

    def where(self, node: Node) -> Where:
        mark = node.start_mark
        return (self.file, mark.line + 1, mark.column + 1)

    def loc(self, node: Node) -> Location:
        return Location(*self.where(node))

    def error(self, message: str, node: Node, hint: str | None = None) -> SpecError:
        return SpecError(message, location=self.loc(node),
                         key_path=format_key_path(tuple(self.path)) or None, hint=hint)

    def build(self, node: Node, loc: Where) -> tuple[Any, Pos]:
        self.nodes += 1
        if self.in_alias:
            self.aliased += 1
            if (self.nodes > self.ALIAS_CHECK_FROM
                    and self.aliased > self.MAX_ALIAS_RATIO * self.nodes) \
                    or self.nodes > self.MAX_NODES:
                raise self.error("the document contains excessive aliasing", node,
                                 hint="nested YAML anchors expand to too many values")
        tag = node.tag
        if type(node) is ScalarNode:
            if tag == _PLAIN:
                return _resolve_plain(node.value), Pos(loc)
            if tag in _STR_TAGS:
                return node.value, Pos(loc)
        if tag == "!reset":
            return RESET, Pos(loc)
        if tag == "!override":
            value, pos = self._untagged(node, loc)
            return Override(value), pos
        return self._untagged(node, loc)

    def _untagged(self, node: Node, loc: Where) -> tuple[Any, Pos]:
        if isinstance(node, ScalarNode):
            return self._scalar(node), Pos(loc)
        key = id(node)
        if key in self.active:
            raise self.error("recursive YAML alias", node)
        if len(self.path) > self.MAX_DEPTH:
            raise self.error(f"the document nests deeper than {self.MAX_DEPTH} levels", node)
        again = key in self.built
        self.built.add(key)
        self.active.add(key)
        self.in_alias += again
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, loc)
            assert isinstance(node, MappingNode)
            return self._mapping(node, loc)
        finally:
            self.active.discard(key)
            self.in_alias -= again

    def _scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == _PLAIN:
            return _resolve_plain(text)
        if tag in _STR_TAGS or tag == "!override":
            return text if tag != "!override" else _resolve_plain(text)
        try:
            if tag == "tag:yaml.org,2002:int":
                return _parse_int(text.replace("_", ""))
            if tag == "tag:yaml.org,2002:float":
                return float(text.replace("_", ""))
            if tag == "tag:yaml.org,2002:bool":
                if text.lower() in ("true", "false"):
                    return text.lower() == "true"
                raise ValueError(text)
            if tag == "tag:yaml.org,2002:null":
                return None
        except ValueError:
            raise self.error(f"cannot read {text!r} as {tag.rsplit(':', 1)[-1]}",
                             node) from None
        raise self.error(f"unsupported YAML tag {tag}", node,
                         hint="compose files support the !reset and !override tags")

    def _sequence(self, node: SequenceNode, loc: Where) -> tuple[Any, Pos]:
        items: list[Any] = []
        kids: list[Pos] = []
        path = self.path
        file = self.file
        for i, item in enumerate(node.value):
            path.append(i)
            mark = item.start_mark
            value, pos = self.build(item, (file, mark.line + 1, mark.column + 1))
            path.pop()
            items.append(value)
            kids.append(pos)
        return items, Pos(loc, kids)

    def _mapping(self, node: MappingNode, loc: Where) -> tuple[Any, Pos]:
        out: dict[str, Any] = {}
        kids: dict[str, Pos] = {}
        merges: list[tuple[Node, Where]] = []
        path = self.path
        file = self.file
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                raise self.error("a mapping key must be a scalar", key_node)
            key = key_node.value
            mark = key_node.start_mark
            key_loc = (file, mark.line + 1, mark.column + 1)
            if key_node.tag == _PLAIN:
                if key == "<<":
                    merges.append((value_node, key_loc))
                    continue
                if key in _NULLS:  # keys stay as written; compose makes every key a string
                    key = "null" if key else ""
            path.append(key)
            if key in kids:
                raise self.error(
                    f'duplicate key "{key}" (already defined at line {kids[key].where[1]})',
                    key_node, hint="remove one of the two definitions")
            out[key], kids[key] = self.build(value_node, key_loc)
            path.pop()
        for value_node, merge_loc in merges:
            # ``<<: *a`` or ``<<: [*a, *b]``: keys already present win, and so do
            # earlier entries of the list (YAML merge-key semantics).
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise self.error("the merge key << needs a mapping or a list of mappings",
                                     source)
                value, pos = self._untagged(source, merge_loc)
                assert isinstance(pos.children, dict)
                for k, v in value.items():
                    if k not in out:
                        out[k] = v
                        kids[k] = pos.children[k]
        return out, Pos(loc, kids)


def load_documents(text: str, file: str) -> list[Document]:
    """Parse every YAML document of ``text`` (the contents of ``file``); compose
    merges them in order like ``-f`` files. An empty stream is one empty
    mapping; each document's top level must be a mapping."""
    if text.startswith("\ufeff"):
        text = text[1:]
    loader = _Loader(text)
    nodes: list[Node | None] = []
    try:
        try:
            while loader.check_node():
                nodes.append(loader.get_node())
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(file, text, exc) from None
        except yaml.YAMLError as exc:
            raise SpecError(f"invalid YAML: {exc}", location=Location(file)) from None
    finally:
        loader.dispose()
    return [_document(file, node) for node in nodes or [None]]


def load_yaml(text: str, file: str) -> Document:
    """Parse a single-document ``text``; several documents are an error here."""
    docs = load_documents(text, file)
    if len(docs) > 1:
        raise SpecError("expected a single YAML document, found several",
                        location=docs[1].pos.loc,
                        hint="load it with load_documents, or split the documents")
    return docs[0]


def _document(file: str, node: Node | None) -> Document:
    root_loc: Where = (file, 1, 1)
    if node is None:
        return Document(file, {}, Pos(root_loc, {}))
    builder = _Builder(file)
    data, pos = builder.build(node, builder.where(node))
    if data is None:
        return Document(file, {}, Pos(root_loc, {}))
    if not isinstance(data, dict):
        raise SpecError(
            f"the top level must be a mapping, not {_kind(data)}",
            location=builder.loc(node),
            hint="a stack file starts with keys such as services:, networks:, volumes:",
        )
    return Document(file, data, pos)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a sequence"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _mark_location(file: str, mark: Any) -> Location:
    if mark is None:
        return Location(file)
    return Location(file, mark.line + 1, mark.column + 1)


def _syntax_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> SpecError:
    problem = exc.problem or "invalid YAML"
    if exc.context:
        problem = f"{exc.context}: {problem}"
    mark = exc.problem_mark or exc.context_mark
    hint = None
    index = getattr(mark, "index", None)
    if index is not None and text[index:index + 1] == "\t":
        hint = "YAML indentation must use spaces, not tabs"
    return SpecError(f"YAML syntax error: {problem}", location=_mark_location(file, mark),
                     hint=hint)


def flatten(pos: Pos, prefix: KeyPath = ()) -> LocationTable:
    """The Pos tree as the flat ``key path -> Location`` table of ``Positions``.
    The tree must not change afterwards (it is read lazily)."""
    return LocationTable(pos, prefix)


def _flatten(pos: Pos, prefix: KeyPath) -> dict[KeyPath, Where]:
    table: dict[KeyPath, Where] = {}
    stack: list[tuple[KeyPath, Pos]] = [(prefix, pos)]
    while stack:
        path, node = stack.pop()
        table[path] = node.where
        c = node.children
        if isinstance(c, dict):
            stack.extend(((*path, k), v) for k, v in c.items())
        elif isinstance(c, list):
            stack.extend(((*path, i), v) for i, v in enumerate(c))
    return table


def strip_markers(data: Any, pos: Pos) -> tuple[Any, Pos]:
    """A fresh copy of ``data`` (no container shared with the input or within
    the result) without what is left of ``!reset`` / ``!override`` once merging
    is done: a reset key or item disappears, an override is its plain value."""
    if type(data) is Override:
        return strip_markers(data.value, pos)
    if type(data) is dict:
        src = pos.children if type(pos.children) is dict else {}
        out: dict[str, Any] = {}
        kids: dict[str, Pos] = {}
        for key, value in data.items():
            if value is RESET:
                continue
            kid = src.get(key, pos)
            if type(value) in (dict, list, Override):
                out[key], kids[key] = strip_markers(value, kid)
            else:
                out[key], kids[key] = value, kid
        return out, Pos(pos.where, kids)
    if type(data) is list:
        src_list = pos.children if type(pos.children) is list else []
        items: list[Any] = []
        item_kids: list[Pos] = []
        for i, value in enumerate(data):
            if value is RESET:
                continue
            kid = src_list[i] if i < len(src_list) else pos
            if type(value) in (dict, list, Override):
                value, kid = strip_markers(value, kid)
            items.append(value)
            item_kids.append(kid)
        return items, Pos(pos.where, item_kids)
    return data, pos
