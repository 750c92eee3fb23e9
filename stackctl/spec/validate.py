"""Turn pydantic's ValidationError into located, readable SpecErrors.

Each pydantic error carries a ``loc`` through the *model* (with union tags such
as ``list[str]`` and pydantic's own ``[key]`` markers); we map it back onto the
*data* the user wrote, so the key path reads ``services.web.ports[1]`` and the
position table can say which file, line and column it came from. Messages say
what was expected and what was found; an unknown key gets the nearest valid
key as a suggestion.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from stackctl.errors import SpecError
from stackctl.spec.models_ports import expand_ports
from stackctl.spec.options import KeyPath, Positions, format_key_path

__all__ = ["describe", "located", "problems_from_validation", "sort_problems"]


def describe(value: Any) -> str:
    """A YAML-ish description of a value for messages: ``a mapping``, ``'abc'``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    return repr(value)


def located(
    message: str, path: KeyPath, positions: Positions, *, hint: str | None = None
) -> SpecError:
    return SpecError(
        message, location=positions.locate(path), key_path=format_key_path(path) or None, hint=hint
    )


def _ports_index(raw: list[Any], expanded_index: int) -> int:
    """Map an index in the expanded ports list back to the item the user wrote."""
    seen = 0
    for i, item in enumerate(raw):
        count = 1
        if isinstance(item, str | int) and not isinstance(item, bool):
            try:
                count = len(expand_ports(item))
            except ValueError:
                count = 1
        if expanded_index < seen + count:
            return i
        seen += count
    return expanded_index


# loc parts that pydantic adds and the user never wrote: union member tags
# ("list[str]", "function-before[...]"), dict-key markers ("[key]"), and our
# own internal fields (a ulimit's "single", the x-* extensions holder)
_INTERNAL = {"single", "__extensions__"}


def _data_path(data: Any, loc: Sequence[int | str]) -> tuple[KeyPath, Any]:
    """Follow pydantic's ``loc`` through the user's data: (key path, value there).

    Parts the data does not have (a missing key) are kept, so the path names
    what is missing; Positions.locate then points at the nearest parent.
    """
    path: list[str | int] = []
    cur = data
    for part in loc:
        if isinstance(cur, Mapping) and isinstance(part, str) and part in cur:
            cur = cur[part]
            path.append(part)
        elif isinstance(cur, list) and isinstance(part, int):
            if path and path[-1] == "ports":
                part = _ports_index(cur, part)
            cur = cur[part] if 0 <= part < len(cur) else None
            path.append(part)
        elif isinstance(part, str) and ("[" in part or part in _INTERNAL):
            continue
        elif isinstance(part, str) and cur is not None and not isinstance(cur, Mapping):
            continue  # a union member tag ("int", "str") under a scalar or list
        else:
            path.append(part)
            cur = None
    return tuple(path), cur


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            containers = [a for a in args if typing.get_origin(a) in (dict, list)]
            tp = (models or containers or args)[0]
        else:
            return tp


def model_at(root: type[BaseModel], path: Iterable[str | int]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for key suggestions)."""
    tp: Any = root
    for part in path:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def valid_keys(model: type[BaseModel]) -> list[str]:
    return [name for name in model.model_fields if name != "extensions"]


def _message(err: Mapping[str, Any], value: Any, root: type[BaseModel], path: KeyPath) -> str:
    kind = err["type"]
    got = describe(err.get("input", value))
    if kind == "extra_forbidden":
        key = str(path[-1])
        model = model_at(root, path[:-1])
        msg = f"unknown key {key!r}"
        if model is not None:
            keys = valid_keys(model)
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
            if close:
                msg += f" (did you mean {close[0]!r}?)"
            elif len(keys) <= 10:  # short enough to list
                msg += f" (expected one of: {', '.join(keys)})"
        return msg
    if kind == "missing":
        return f"missing required key {str(path[-1])!r}"
    simple = {
        "int_parsing": "an integer",
        "int_type": "an integer",
        "int_from_float": "an integer",
        "float_parsing": "a number",
        "float_type": "a number",
        "bool_parsing": "a boolean (true or false)",
        "bool_type": "a boolean (true or false)",
        "string_type": "a string",
        "list_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
    }
    if kind in simple:
        return f"expected {simple[kind]}, got {got}"
    if kind == "literal_error":
        return f"expected {err['ctx']['expected']}, got {got}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        op = {
            "greater_than_equal": ">=",
            "less_than_equal": "<=",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        bound = next(iter(err["ctx"].values()))
        return f"expected a number {op} {bound}, got {got}"
    if kind == "value_error":
        text = str(err["msg"])
        return text.removeprefix("Value error, ")
    text = str(err["msg"])
    return (text[:1].lower() + text[1:]) + f", got {got}"


def problems_from_validation(
    exc: ValidationError, data: Any, positions: Positions, root: type[BaseModel]
) -> list[SpecError]:
    """One SpecError per distinct problem (union alternatives collapse into one)."""
    out: list[SpecError] = []
    seen: set[KeyPath] = set()
    for err in exc.errors(include_url=False):
        path, value = _data_path(data, err["loc"])
        if path in seen:
            continue
        seen.add(path)
        out.append(located(_message(err, value, root, path), path, positions))
    return out


def sort_problems(problems: list[SpecError]) -> list[SpecError]:
    def key(p: SpecError) -> tuple[str, int, int, str]:
        loc = p.location
        return (
            loc.file if loc else "",
            (loc.line or 0) if loc else 0,
            (loc.column or 0) if loc else 0,
            p.key_path or "",
        )

    return sorted(problems, key=key)
