"""Variable interpolation in stack files, as compose-go's ``template`` package does it.

Forms, inside any string value (keys are left alone):

    $$            a literal $
    $VAR ${VAR}   the value; unset -> "" plus one warning per variable
    ${VAR:-d}     d when VAR is unset or empty      ${VAR-d}  d when unset
    ${VAR:?msg}   error when VAR is unset or empty  ${VAR?msg} error when unset
    ${VAR:+alt}   alt when VAR is set and not empty ${VAR+alt} alt when set

``d``, ``msg`` and ``alt`` are templates themselves (nesting) and are only
expanded when used, so an unused default never warns. A ``$`` that starts
none of these stays as it is (``a $ b``, ``^x$``); a malformed ``${...}`` is
an "Invalid template" error. Names are ``[_A-Za-z][_A-Za-z0-9]*``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stackctl.errors import SpecError
from stackctl.lightdc import dataclass
from stackctl.spec.options import KeyPath, format_key_path
from stackctl.spec.yamlpos import Override, Pos

__all__ = [
    "InterpolationError",
    "Interpolator",
    "Variable",
    "extract_variables",
    "missing_warning",
    "substitute",
]

Lookup = Callable[[str], str | None]
OnMissing = Callable[[str], None]

_NAME_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


class InterpolationError(ValueError):
    """A template that cannot be expanded; ``variable`` names the culprit if any."""

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.variable = variable


def missing_warning(name: str) -> str:
    """The warning compose prints for an unset variable."""
    return f'The "{name}" variable is not set. Defaulting to a blank string.'


def substitute(template: str, lookup: Lookup, on_missing: OnMissing | None = None) -> str:
    """Expand ``template``; ``lookup(name)`` is None for an unset variable.

    Raises InterpolationError for an invalid template or a required (``?``)
    variable without a value."""
    if "$" not in template:
        return template
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        nxt = template[j + 1] if j + 1 < n else ""
        if nxt == "$":
            out.append("$")
            i = j + 2
        elif nxt in _NAME_START:
            k = j + 2
            while k < n and template[k] in _NAME_CHARS:
                k += 1
            out.append(_value(template[j + 1:k], lookup, on_missing))
            i = k
        elif nxt == "{":
            end = _closing_brace(template, j + 1)
            if end < 0:
                raise _invalid(template)
            out.append(_braced(template[j + 2:end], template, lookup, on_missing))
            i = end + 1
        else:
            out.append("$")
            i = j + 1
    return "".join(out)


def _closing_brace(s: str, start: int) -> int:
    """Index of the ``}`` that closes the ``{`` at ``start``, counting every
    brace in between (so ``${x:-{"json":1}}`` closes at the last one)."""
    depth = 0
    for k in range(start, len(s)):
        c = s[k]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _invalid(template: str) -> InterpolationError:
    return InterpolationError(f'Invalid template: "{template}"')


def _value(name: str, lookup: Lookup, on_missing: OnMissing | None) -> str:
    value = lookup(name)
    if value is None:
        if on_missing is not None:
            on_missing(name)
        return ""
    return value


def _braced(body: str, template: str, lookup: Lookup, on_missing: OnMissing | None) -> str:
    if not body or body[0] not in _NAME_START:
        raise _invalid(template)
    k = 1
    while k < len(body) and body[k] in _NAME_CHARS:
        k += 1
    name, rest = body[:k], body[k:]
    if not rest:
        return _value(name, lookup, on_missing)
    colon = rest.startswith(":")
    op_at = 1 if colon else 0
    if len(rest) <= op_at or rest[op_at] not in "-+?":
        raise _invalid(template)
    op, arg = rest[op_at], rest[op_at + 1:]
    value = lookup(name)
    # With the colon, "empty" counts as unset.
    missing = value is None or (colon and value == "")
    if op == "-":
        return substitute(arg, lookup, on_missing) if missing else str(value)
    if op == "+":
        return "" if missing else substitute(arg, lookup, on_missing)
    if missing:
        message = substitute(arg, lookup, on_missing)
        text = f"required variable {name} is missing a value"
        raise InterpolationError(f"{text}: {message}" if message else text, variable=name)
    return str(value)


@dataclass(frozen=True)
class Variable:
    """A variable a stack file uses (``config --variables``): whether it is
    required (``?`` forms), its default (``-`` forms) and alternate (``+``)."""

    name: str
    required: bool = False
    default: str | None = None
    alternate: str | None = None


def _references(template: str) -> list[Variable]:
    """Every variable reference in ``template``, nested ones included, as written.
    Malformed ``${...}`` are skipped (interpolation reports them)."""
    out: list[Variable] = []
    i, n = 0, len(template)
    while True:
        j = template.find("$", i)
        if j < 0 or j + 1 >= n:
            return out
        nxt = template[j + 1]
        if nxt == "$":
            i = j + 2
        elif nxt in _NAME_START:
            k = j + 2
            while k < n and template[k] in _NAME_CHARS:
                k += 1
            out.append(Variable(template[j + 1:k]))
            i = k
        elif nxt == "{":
            end = _closing_brace(template, j + 1)
            if end < 0:
                return out
            out.extend(_braced_reference(template[j + 2:end]))
            i = end + 1
        else:
            i = j + 1


def _braced_reference(body: str) -> list[Variable]:
    k = 0
    while k < len(body) and body[k] in _NAME_CHARS:
        k += 1
    name, rest = body[:k], body[k:]
    if not name or name[0] not in _NAME_START:
        return []
    op = rest[1:2] if rest.startswith(":") else rest[:1]
    arg = rest[2:] if rest.startswith(":") else rest[1:]
    if not rest:
        return [Variable(name)]
    if op not in ("-", "+", "?"):
        return []
    var = Variable(name, required=op == "?", default=arg if op == "-" else None,
                   alternate=arg if op == "+" else None)
    return [var, *_references(arg)]


def extract_variables(data: Any) -> dict[str, Variable]:
    """The variables used by the string values of ``data`` (keys are not
    interpolated), by name in first-use order. A variable used several ways
    is required if any use requires it and keeps the first default/alternate."""
    found: dict[str, Variable] = {}
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            for var in _references(value) if "$" in value else ():
                seen = found.get(var.name)
                if seen is None:
                    found[var.name] = var
                else:
                    found[var.name] = Variable(
                        var.name, seen.required or var.required,
                        seen.default if seen.default is not None else var.default,
                        seen.alternate if seen.alternate is not None else var.alternate)
        elif isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, Override):
            stack.append(value.value)
    return found


class Interpolator:
    """Interpolates every string of a loaded tree against one environment,
    remembering the unset variables it met (the first place each was used)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.missing: dict[str, str] = {}  # name -> key path where first seen
        self._path: KeyPath = ()
        self._stack: list[str | int] = []

    def _on_missing(self, name: str) -> None:
        self.missing.setdefault(name, format_key_path(self._path))

    def text(self, value: str) -> str:
        try:
            return substitute(value, self.environ.get, self._on_missing)
        except RecursionError:  # defaults nested hundreds deep in one string
            raise InterpolationError(f'Invalid template: "{value[:40]}...": nested too deeply'
                                     ) from None

    def tree(self, data: Any, pos: Pos, path: KeyPath = ()) -> Any:
        """A copy of ``data`` with every string value interpolated. Errors are
        SpecErrors located through ``pos``."""
        self._stack = list(path)
        return self._walk(data, pos)

    def _walk(self, data: Any, pos: Pos) -> Any:
        kind = type(data)
        if kind is str:
            return self._string(data, pos) if "$" in data else data
        stack = self._stack
        if kind is dict:
            src = pos.children if type(pos.children) is dict else {}
            out: dict[str, Any] = {}
            for key, value in data.items():
                t = type(value)
                if t is str:
                    if "$" in value:
                        stack.append(key)
                        value = self._string(value, src.get(key, pos))
                        stack.pop()
                elif t is dict or t is list or t is Override:
                    stack.append(key)
                    value = self._walk(value, src.get(key, pos))
                    stack.pop()
                out[key] = value
            return out
        if kind is list:
            src_list = pos.children if type(pos.children) is list else []
            items: list[Any] = []
            for i, value in enumerate(data):
                t = type(value)
                if (t is str and "$" in value) or t is dict or t is list or t is Override:
                    stack.append(i)
                    value = self._walk(value, src_list[i] if i < len(src_list) else pos)
                    stack.pop()
                items.append(value)
            return items
        if kind is Override:
            return Override(self._walk(data.value, pos))
        return data

    def _string(self, value: str, pos: Pos) -> str:
        self._path = tuple(self._stack)
        try:
            return self.text(value)
        except InterpolationError as exc:
            if exc.variable is not None:
                hint = f"set {exc.variable} in the environment or in the .env file"
            else:
                hint = "write $$ for a literal dollar sign"
            raise SpecError(exc.message, location=pos.loc,
                            key_path=format_key_path(self._path) or None, hint=hint) from None
