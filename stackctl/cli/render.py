"""Output shapes for the CLI: aligned tables, Go-template-ish ``--format``, durations.

``--format`` is Go's text/template as Docker users write it (cli/gotemplate.py:
fields, ``range``, ``if``, ``with``, pipelines, ``json``/``index``/``join``/``len``/
``println``...), with ``\\t``/``\\n`` escapes and a ``table`` prefix that prints a
header row. Stdlib only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence

from stackctl import humanize
from stackctl.errors import UsageError
from stackctl.humanize import bytes_size, human_duration, human_size

TYPE_CHECKING = False  # typing costs ~4 ms at start-up: annotations only
if TYPE_CHECKING:
    from typing import Any

_ACTION = re.compile(r"{{-?\s*(.*?)\s*-?}}")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Docker's list table (its formatter's tabwriter: minwidth 10, padding 3)."""
    return humanize.table([headers, *rows], minwidth=10)


def render_template(template: str, data: Any) -> str:
    """``--format`` on one item: Go's text/template subset (cli/gotemplate.py), with
    the ``\\t``/``\\n`` escapes the docker CLI accepts."""
    from stackctl.cli import gotemplate

    text = template.replace("\\t", "\t").replace("\\n", "\n")
    try:
        return gotemplate.render(text, data)
    except gotemplate.TemplateError as exc:
        raise UsageError(f"--format {template!r}: template: {exc.message}",
                         hint="fields look like {{.State.Status}}; `inspect` without "
                              "--format shows every field") from None


def format_rows(fmt: str, items: Sequence[Mapping[str, Any]]) -> str:
    """``--format`` over list items; ``table ...`` adds a header from the field names."""
    if fmt.startswith("table"):
        body = fmt[5:].strip() or "\t".join("{{." + k + "}}" for k, v in
                                            (items[0] if items else {}).items()
                                            if not callable(v))
        cols = [c for c in body.replace("\\t", "\t").split("\t")]
        headers = [_header(c) for c in cols]
        rows = [[render_template(c, i) for c in cols] for i in items]
        return table(headers, rows)
    if fmt == "json":  # docker's json format is this template (a row's methods are no data)
        fmt = "{{json .}}"
    # docker's row is a Go map, marshalled with its keys sorted: {{json .}} shows it
    return "\n".join(render_template(fmt, dict(sorted(i.items()))) for i in items)


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
    words = m.group(1).split()
    # the field it shows: {{.Names}}, {{json .Config}}, {{.Label "k"}} -> LABEL
    name = next((w for w in words if w.startswith(".")), words[-1] if words else "")
    name = name.lstrip(".").split(".")[-1]
    special = {"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"}
    return special.get(name, re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).upper())


def ago(timestamp: float, now: float | None = None) -> str:
    return human_duration((now if now is not None else time.time()) - timestamp) + " ago"


def pruned(sections: Sequence[tuple[str, Sequence[str]]], freed: int) -> str:
    """What docker's prune commands print: each non-empty section's title and items
    and a blank line, then the space reclaimed (go-units HumanSize, as docker's)."""
    out: list[str] = []
    for title, items in sections:
        if items:
            out += [title, *items, ""]
    out.append(f"Total reclaimed space: {human_size(freed)}")
    return "\n".join(out)


__all__ = ["ago", "bytes_size", "format_rows", "human_duration", "human_size",
           "inspect_text", "pruned", "render_template", "table"]
