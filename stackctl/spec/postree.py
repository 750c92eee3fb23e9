"""Where every value of a loaded stack file came from: the ``Pos`` tree.

Loading yields a ``Pos`` tree shaped like the data: each mapping value's ``Pos``
holds the location of its key, each sequence item's ``Pos`` holds the location
of the item. The pipeline (merge, extends, include) moves data and ``Pos``
together; ``flatten`` turns the result into the ``Positions`` table of the
contract.

Compose's merge tags survive loading as markers: a ``!reset`` value becomes
``RESET`` and a ``!override`` value becomes ``Override(value)``; merge.py acts
on them and ``strip_markers`` removes what remains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from stackctl.errors import Location
from stackctl.lightdc import dataclass, field
from stackctl.spec.options import KeyPath

__all__ = [
    "RESET",
    "Document",
    "LocationTable",
    "Override",
    "Pos",
    "Where",
    "flatten",
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
