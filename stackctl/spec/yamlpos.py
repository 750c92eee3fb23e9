"""YAML -> plain Python data plus where every key and item came from.

Compose reads YAML with Go's yaml.v3, i.e. the YAML 1.2 core schema; yaml12.py
makes PyYAML build the node graph that way and resolves plain scalars. Here
``_Builder`` walks that graph once into the data and its ``Pos`` tree
(postree.py: positions, the ``!reset``/``!override`` markers, ``flatten``,
``strip_markers``; re-exported here), refusing alias bombs, recursion,
duplicate keys and too deep nesting with errors that name file:line:col.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stackctl.errors import Location, SpecError
from stackctl.spec.options import format_key_path
from stackctl.spec.postree import (
    RESET,
    Document,
    LocationTable,
    Override,
    Pos,
    Where,
    flatten,
    strip_markers,
)
from stackctl.spec.yaml12 import NULLS, PLAIN_TAG, STR_TAGS, Loader, parse_int, resolve_plain

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
            if tag == PLAIN_TAG:
                return resolve_plain(node.value), Pos(loc)
            if tag in STR_TAGS:
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
        if tag == PLAIN_TAG:
            return resolve_plain(text)
        if tag in STR_TAGS or tag == "!override":
            return text if tag != "!override" else resolve_plain(text)
        try:
            if tag == "tag:yaml.org,2002:int":
                return parse_int(text.replace("_", ""))
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
            if key_node.tag == PLAIN_TAG:
                if key == "<<":
                    merges.append((value_node, key_loc))
                    continue
                if key in NULLS:  # keys stay as written; compose makes every key a string
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
    loader = Loader(text)
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
