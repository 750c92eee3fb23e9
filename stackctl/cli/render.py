"""Output shapes for the CLI: aligned tables, Go-template-ish ``--format``, durations.

``--format`` understands what Docker users type most: ``{{.State.Status}}``,
``{{.Name}}``, ``{{json .}}``, ``{{json .Config}}``, ``{{index .Config.Labels "k"}}``,
``{{upper .x}}``/``{{lower .x}}``, ``{{join .Args " "}}``, literal text, ``\\t``/``\\n``
escapes, and a ``table`` prefix that prints a header row. Stdlib only.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Any

from stackctl import humanize
from stackctl.errors import UsageError
from stackctl.humanize import bytes_size, human_duration, human_size

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Docker's table: columns padded to their widest cell, three spaces apart."""
    return humanize.table([headers, *rows])


def _lookup(data: Any, path: str, template: str) -> Any:
    if path == ".":
        return data
    if not path.startswith("."):
        if path.startswith('"') and path.endswith('"'):
            return path[1:-1]
        raise UsageError(f"--format {template!r}: cannot evaluate {path!r}",
                         hint="fields look like {{.State.Status}}")
    cur = data
    for key in path[1:].split("."):
        if isinstance(cur, Mapping):
            if key in cur:
                cur = cur[key]
                continue
            lowered = {k.lower(): k for k in cur}
            if key.lower() in lowered:
                cur = cur[lowered[key.lower()]]
                continue
        raise UsageError(f"--format {template!r}: no field {key!r} in {path}",
                         hint="`inspect` without --format shows every field")
    return cur


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in value.items()) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_text(v) for v in value) + "]"
    return str(value)


def _evaluate(expr: str, data: Any, template: str) -> str:
    try:
        words = shlex.split(expr)
    except ValueError as exc:
        raise UsageError(f"--format {template!r}: {exc}") from None
    if not words:
        return ""
    func, args = words[0], words[1:]
    if func.startswith(".") and not args:
        return _text(_lookup(data, func, template))
    values = [_lookup(data, a, template) if a.startswith(".") else a for a in args]
    if func == "json" and len(values) == 1:
        return json.dumps(values[0], separators=(",", ":"))
    if func == "upper" and len(values) == 1:
        return _text(values[0]).upper()
    if func == "lower" and len(values) == 1:
        return _text(values[0]).lower()
    if func == "index" and len(values) == 2:
        container, key = values
        if isinstance(container, Mapping):
            return _text(container.get(key))
        if isinstance(container, list) and str(key).isdigit():
            return _text(container[int(key)])
    if func == "join" and len(values) == 2:
        return str(values[1]).join(_text(v) for v in values[0] or [])
    raise UsageError(f"--format {template!r}: cannot evaluate {{{{{expr}}}}}",
                     hint="supported: .Field.Path, json, index, join, upper, lower")


def render_template(template: str, data: Any) -> str:
    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return _ACTION.sub(lambda m: _evaluate(m.group(1), data, template), text)


def format_rows(fmt: str, items: Sequence[Mapping[str, Any]]) -> str:
    """``--format`` over list items; ``table ...`` adds a header from the field names."""
    if fmt == "json":
        return "\n".join(json.dumps(i, separators=(",", ":")) for i in items)
    if fmt.startswith("table"):
        body = fmt[5:].strip() or "\t".join("{{." + k + "}}" for k in (items[0] if items else {}))
        cols = [c for c in body.replace("\\t", "\t").split("\t")]
        headers = [_header(c) for c in cols]
        rows = [[render_template(c, i) for c in cols] for i in items]
        return table(headers, rows)
    return "\n".join(render_template(fmt, i) for i in items)


def inspect_text(items: Sequence[Any], fmt: str | None) -> str:
    """What ``inspect`` prints: ``--format`` rendered for each item, one per line, else
    the items as one JSON array with Docker's four-space indent."""
    if fmt:
        return "".join(render_template(fmt, item) + "\n" for item in items)
    return json.dumps(list(items), indent=4) + "\n"


def _header(cell: str) -> str:
    m = _ACTION.search(cell)
    if not m:
        return cell
    name = m.group(1).split()[-1].lstrip(".")
    special = {"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}
    return special.get(name, re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).upper())


def ago(timestamp: float, now: float | None = None) -> str:
    return human_duration((now if now is not None else time.time()) - timestamp) + " ago"


__all__ = ["ago", "bytes_size", "format_rows", "human_duration", "human_size",
           "inspect_text", "render_template", "table"]
