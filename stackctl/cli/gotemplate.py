"""The part of Go's text/template that Docker users write in ``--format``.

Actions: fields (``.A.B``, ``$``, ``$v.A``, ``(pipeline).A``), pipelines (``a | b``),
variables (``$x := ...``), ``if``/``else if``/``else``, ``range`` (with ``$i, $v :=``),
``with``, ``end``, and ``{{-``/``-}}`` trimming. Functions: Go's ``and or not len
index print printf println eq ne lt le gt ge slice`` and Docker's ``json join split
lower upper title pad truncate``. Values print as Go prints them (``map[k:v]``,
``[a b]``, ``<no value>``). Stdlib only: imported by the CLI's renderers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from stackctl.errors import UsageError

TYPE_CHECKING = False  # typing costs ~4 ms at start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<op>:=|[|(),=])'
                    r'|(?P<word>[^\s|(),=]+))')
_ACTION = re.compile(r"{{(-\s)?(.*?)(\s-)?}}", re.S)


class TemplateError(UsageError):
    pass


def go_text(value: Any) -> str:
    """``fmt.Sprint`` of a decoded JSON value, as Docker's templates print it."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_text(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_text(v) for v in value) + "]"
    return str(value)


class _NilList(list):  # type: ignore[type-arg]
    """A Go slice that is nil: prints as [], marshals to null."""


class _NilMap(dict):  # type: ignore[type-arg]
    """A Go map that is nil: prints as map[], marshals to null."""


# docker runs an inspect template on its typed structs first, where these fields are
# slices or maps: null there prints as [] or map[], not <no value>
_SLICES = frozenset(("Cmd", "Entrypoint", "Env", "OnBuild", "Shell", "Binds", "CapAdd",
                     "CapDrop", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd",
                     "Links", "SecurityOpt", "Devices", "Ulimits", "Mounts", "RepoTags",
                     "RepoDigests", "Aliases", "Layers", "VolumesFrom"))
_MAPS = frozenset(("Labels", "Volumes", "ExposedPorts", "Tmpfs", "PortBindings", "Sysctls",
                   "Ports", "Options", "DriverOpts", "StorageOpt", "Networks"))


def _typed(name: str, value: Any) -> Any:
    if value is None:
        if name in _SLICES:
            return _NilList()
        if name in _MAPS:
            return _NilMap()
    return value


def _truth(value: Any) -> bool:
    return bool(value) if not isinstance(value, float) else value != 0.0


def _json(value: Any) -> str:
    # Docker's json: no HTML escaping; a row's methods are left out as Go leaves them out
    return json.dumps(_data(value), separators=(",", ":"), ensure_ascii=False)


def _data(value: Any) -> Any:
    if isinstance(value, _NilList | _NilMap):
        return None
    if isinstance(value, Mapping):
        return {k: _data(v) for k, v in value.items() if not callable(v)}
    return value


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple | str) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise TemplateError(f"index out of range: {key}")
            value = value[key]
        elif value is None:
            raise TemplateError("index of untyped nil")
        else:
            raise TemplateError(f"can't index item of type {type(value).__name__}")
    return value


def _print(*args: Any) -> str:
    # Go's Sprint: a space between operands when neither side is a string
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_text(a)
    return out


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        v = next(it, None)
        verb = m.group(0)[-1]
        if verb == "q":
            return _json(go_text(v))
        spec = m.group(0)[:-1] + ("d" if verb == "d" else "s")
        return spec % (int(v) if verb == "d" and v is not None else go_text(v))

    return re.sub(r"%[-+ #0]*\d*(?:\.\d+)?[a-zA-Z%]", one, fmt)


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    return lambda a, *b: any(op(a, x) for x in b) if b else False


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json, "index": _index, "print": _print, "printf": _printf,
    "println": lambda *a: " ".join(go_text(x) for x in a) + "\n",
    "len": lambda v: len(v) if v is not None else 0,
    "not": lambda v: not _truth(v),
    "eq": _cmp(lambda a, b: a == b), "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "slice": lambda v, *i: v[slice(*i)],
    "join": lambda v, sep: sep.join(go_text(x) for x in v or []),
    "split": lambda s, sep: s.split(sep),
    "lower": lambda s: go_text(s).lower(), "upper": lambda s: go_text(s).upper(),
    "title": lambda s: go_text(s).title(),
    "pad": lambda s, left, right: " " * left + go_text(s) + " " * right,
    "truncate": lambda s, n: go_text(s)[:n],
}


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        if name in value:
            return _typed(name, value[name])
        lowered = {str(k).lower(): k for k in value}
        if name.lower() in lowered:
            return _typed(name, value[lowered[name.lower()]])
        # docker inspect runs templates with missingkey=error (index gives <no value>)
        raise TemplateError(f'map has no entry for key "{name}"')
    raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")


class _Scope:
    def __init__(self, root: Any) -> None:
        self.vars: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.vars):
            if name in frame:
                return frame[name]
        raise TemplateError(f"undefined variable: {name}")


def _tokens(expr: str) -> list[str]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            if expr[pos:].strip():
                raise TemplateError(f"unexpected {expr[pos:].strip()!r}")
            break
        out.append(m.group(m.lastgroup or "word"))
        pos = m.end()
    return out


class _Eval:
    """Evaluates one action's tokens against the dot and the variables."""

    def __init__(self, toks: list[str], dot: Any, scope: _Scope) -> None:
        self.toks, self.i, self.dot, self.scope = toks, 0, dot, scope

    def pipeline(self) -> Any:
        value, first = None, True
        while True:
            args: list[Any] = []
            fn: str | None = None
            while self.i < len(self.toks) and self.toks[self.i] not in ("|", ")"):
                tok = self.toks[self.i]
                if not args and fn is None and tok in FUNCS:
                    fn = tok
                    self.i += 1
                else:
                    args.append(self.operand())
            if not first:
                args.append(value)
            if fn is not None:
                try:
                    value = FUNCS[fn](*args)
                except TemplateError:
                    raise
                except (TypeError, ValueError, KeyError, IndexError) as exc:
                    raise TemplateError(f"error calling {fn}: {exc}") from None
            elif args and callable(args[0]):  # a method with arguments: {{.Label "k"}}
                try:
                    value = args[0](*args[1:])
                except TypeError as exc:
                    raise TemplateError(f"wrong arguments: {exc}") from None
            elif len(args) == 1:
                value = args[0]
            else:
                raise TemplateError("can't give argument to non-function")
            first = False
            if self.i < len(self.toks) and self.toks[self.i] == "|":
                self.i += 1
                continue
            return value

    def operand(self) -> Any:
        tok = self.toks[self.i]
        self.i += 1
        if tok == "(":
            value = self.pipeline()
            if self.i >= len(self.toks) or self.toks[self.i] != ")":
                raise TemplateError("unclosed left paren")
            self.i += 1
            rest = ""
            if self.i < len(self.toks) and self.toks[self.i].startswith("."):
                rest = self.toks[self.i]
                self.i += 1
            return self._path(value, rest)
        if tok.startswith('"'):
            return json.loads(tok)
        if tok.startswith("`"):
            return tok[1:-1]
        if tok.startswith("."):
            return self._path(self.dot, tok)
        if tok.startswith("$"):
            name, dot, rest = tok.partition(".")
            return self._path(self.scope.get(name), dot + rest)
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "nil":
            return None
        if re.fullmatch(r"-?\d+", tok):
            return int(tok)
        if re.fullmatch(r"-?\d*\.\d+", tok):
            return float(tok)
        raise TemplateError(f'function "{tok}" not defined')

    @staticmethod
    def _path(value: Any, path: str) -> Any:
        for name in [p for p in path.split(".") if p]:
            value = _field(value, name)
        return value


# A parsed template: text, ("act", tokens, trim info) and blocks ("if"/"range"/"with",
# tokens, body, else-body).
if TYPE_CHECKING:
    Node = tuple[Any, ...]  # (kind, ...): a parsed template action


def _parse(template: str) -> list[Node]:
    items: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        if items and items[-1][0] == "trim":
            items.pop()
            text = text.lstrip()
        items.append(("text", text))
        items.append(("act", m.group(2).strip()))
        if m.group(3):
            items.append(("trim", ""))
        pos = m.end()
    tail = template[pos:]
    if items and items[-1][0] == "trim":
        items.pop()
        tail = tail.lstrip()
    items.append(("text", tail))
    nodes, end, _ = _block(items, 0, template)
    if end is not None:
        raise TemplateError(f"unexpected {{{{{end}}}}}")
    return nodes


def _block(items: list[tuple[str, str]], i: int, template: str
           ) -> tuple[list[Node], str | None, int]:
    """Nodes up to an ``end``/``else`` (returned with the index after it)."""
    nodes: list[Node] = []
    while i < len(items):
        kind, text = items[i]
        i += 1
        if kind == "text":
            if text:
                nodes.append(("text", text))
            continue
        if text.startswith("/*"):
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in ("end", "else"):
            return nodes, text, i
        if word in ("if", "range", "with"):
            node, i = _compound(items, i, word, text, template)
            nodes.append(node)
            continue
        nodes.append(("act", _tokens(text)))
    return nodes, None, i


def _compound(items: list[tuple[str, str]], i: int, word: str, text: str, template: str
              ) -> tuple[Node, int]:
    """An if/range/with block from after its opening action to its ``end``."""
    toks = _tokens(text[len(word):])
    body, stop, i = _block(items, i, template)
    other: list[Node] = []
    if stop is not None and stop.split(None, 1)[0] == "else":
        rest = stop[4:].strip()
        if rest.split(None, 1)[:1] in (["if"], ["with"]):  # else if: shares our end
            inner, i = _compound(items, i, rest.split(None, 1)[0], rest, template)
            return (word, toks, body, [inner]), i
        other, stop, i = _block(items, i, template)
    if stop != "end":
        raise TemplateError(f"unexpected EOF in {{{{{word}}}}}")
    return (word, toks, body, other), i


def _declared(toks: list[str]) -> tuple[list[str], list[str]]:
    """``$k, $v := pipeline`` -> (["$k", "$v"], pipeline tokens)."""
    if ":=" in toks:
        at = toks.index(":=")
        return [t for t in toks[:at] if t != ","], toks[at + 1:]
    return [], toks


def _run(nodes: list[Node], dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
            continue
        names, toks = _declared(node[1])
        if not toks:
            raise TemplateError(f"missing value for {kind}")
        value = _Eval(toks, dot, scope).pipeline()
        if kind == "act":
            if names:
                scope.vars[-1][names[0]] = value
            else:
                out.append(go_text(value))
            continue
        if kind == "if" or kind == "with":
            branch = node[2] if _truth(value) else node[3]
            scope.vars.append({})
            _run(branch, value if kind == "with" and _truth(value) else dot, scope, out)
            scope.vars.pop()
            continue
        pairs = (sorted(value.items()) if isinstance(value, Mapping)
                 else list(enumerate(value or [])))
        if not pairs:
            _run(node[3], dot, scope, out)
        for key, item in pairs:
            frame: dict[str, Any] = {}
            if len(names) == 1:
                frame[names[0]] = item
            elif len(names) == 2:
                frame[names[0]], frame[names[1]] = key, item
            scope.vars.append(frame)
            _run(node[2], item, scope, out)
            scope.vars.pop()


def render(template: str, data: Any) -> str:
    """``template`` executed on ``data``; a TemplateError names what went wrong."""
    out: list[str] = []
    _run(_parse(template), data, _Scope(data), out)
    return "".join(out)


__all__ = ["FUNCS", "TemplateError", "go_text", "render"]
