"""A minimal stand-in for ``stackctl.spec.raw.load_raw`` and the dotenv parser.

Used only while the text pipeline (merge, extends, include, dotenv) is not
importable: one file, positions, interpolation, a basic ``.env``. Delete once
``stackctl.spec.raw`` exists everywhere.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from typing import Any

from stackctl.errors import SpecError
from stackctl.spec.options import LoadOptions, Positions, RawProject

_DEFAULTS = (
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
    "stack.yaml",
)


def parse_env_simple(text: str, lookup: Callable[[str], str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.lstrip("\ufeff").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, found, value = line.partition("=")
        key = key.strip()
        if not found:
            out[key] = lookup(key)
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    return out


def load_raw_fallback(opts: LoadOptions) -> RawProject:
    from stackctl.spec.interpolate import Interpolator
    from stackctl.spec.yamlpos import flatten, load_yaml, strip_markers

    workdir = os.path.abspath(opts.project_directory or os.getcwd())
    if opts.files:
        first = opts.files[0]
    else:
        found = [n for n in _DEFAULTS if os.path.exists(os.path.join(workdir, n))]
        if not found:
            raise SpecError(f"no stack file found in {workdir}")
        first = found[0]
    if first == "-":
        text, path = (opts.stdin or sys.stdin).read(), "-"
    else:
        path = os.path.abspath(os.path.join(workdir, first))
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if opts.project_directory is None:
            workdir = os.path.dirname(path)
    env: dict[str, str] = {}
    for ef in opts.env_files or (os.path.join(workdir, ".env"),):
        if os.path.exists(ef):
            with open(ef, encoding="utf-8") as fh:
                env.update({k: v or "" for k, v in parse_env_simple(fh.read(), env.get).items()})
    env.update(os.environ if opts.environ is None else opts.environ)
    doc = load_yaml(text, path)
    data = doc.data
    early = opts.project_name or data.get("name")
    if isinstance(early, str) and "$" not in early:
        env.setdefault("COMPOSE_PROJECT_NAME", early)
    if opts.interpolate:
        data = Interpolator(env).tree(data, doc.pos)
    data = strip_markers(data, doc.pos)
    name = opts.project_name or env.get("COMPOSE_PROJECT_NAME") or data.get("name")
    if not isinstance(name, str) or not name:
        name = os.path.basename(workdir)
    name = re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-") or "default"
    data = dict(data)
    data["name"] = name
    return RawProject(
        name=name,
        working_dir=workdir,
        files=(path,),
        environment=env,
        data=data,
        positions=Positions(flatten(doc.pos)),
    )
