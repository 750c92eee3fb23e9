"""Models -> the canonical compose dict that ``stackctl config`` prints.

The shape follows ``docker compose config`` (compose-go's marshalling):
durations as Go durations (``1m30s``), byte sizes and published ports as
strings, file modes as octal strings, ``extra_hosts`` as ``host=ip``,
``depends_on`` and ``networks`` as mappings, unset keys left out, ``x-*``
extensions back where they were. A model's keys keep its declaration order
(alphabetical for a service); the keys of user mappings (services, networks,
environment, labels, depends_on...) are sorted, as compose-go's marshalling
of Go maps sorts them.
"""

from __future__ import annotations

import json
import typing
from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel

from stackctl.spec.models_base import _bytes, _duration
from stackctl.spec.models_parts import DependsOn, EnvFile, Ulimit
from stackctl.spec.models_ports import _octal_mode
from stackctl.spec.models_top import Project
from stackctl.spec.units import format_duration

__all__ = ["dump_json", "dump_yaml", "project_dict", "to_data"]

_TOP_ORDER = ("services", "networks", "volumes", "secrets", "configs", "models")


def _kind(annotation: Any, metadata: list[Any]) -> str | None:
    """'duration', 'bytes' or 'mode' when a field's type carries that converter."""
    stack: list[Any] = [annotation]
    if metadata:
        stack.append(typing.Annotated[(annotation, *metadata)])
    while stack:
        tp = stack.pop()
        if typing.get_origin(tp) is typing.Annotated:
            for meta in typing.get_args(tp)[1:]:
                func = getattr(meta, "func", None)
                if func is _duration:
                    return "duration"
                if func is _bytes:
                    return "bytes"
                if func is _octal_mode:
                    return "mode"
            stack.append(typing.get_args(tp)[0])
        elif typing.get_origin(tp) in (typing.Union, type(int | None)):
            stack.extend(typing.get_args(tp))
    return None


@cache
def _field_kinds(model: type[BaseModel]) -> dict[str, str | None]:
    return {name: _kind(f.annotation, f.metadata) for name, f in model.model_fields.items()}


def _scalar(value: Any, kind: str | None) -> Any:
    if kind == "duration" and isinstance(value, float | int) and not isinstance(value, bool):
        return format_duration(float(value))
    if kind == "bytes" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind == "mode" and isinstance(value, int) and not isinstance(value, bool):
        return f"0{value:o}"
    return value


def to_data(value: Any) -> Any:
    """A model (or container of models) as plain YAML/JSON-ready data."""
    if isinstance(value, BaseModel):
        return _model(value)
    if isinstance(value, dict):
        # user-keyed mappings print sorted, as compose-go's marshalling of Go maps does
        return {k: to_data(value[k]) for k in sorted(value)}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    return value


def _model(m: BaseModel) -> Any:
    if isinstance(m, Ulimit):
        if m.single is not None:
            return m.single
        return {"soft": m.soft, "hard": m.hard}
    kinds = _field_kinds(type(m))
    out: dict[str, Any] = {}
    for name in type(m).model_fields:
        if name == "extensions":
            continue
        value = getattr(m, name)
        if value is None:
            continue
        if isinstance(m, DependsOn) and name == "restart" and value is False:
            continue
        if isinstance(m, EnvFile) and name == "required" and value is True:
            continue
        if name == "extra_hosts" and isinstance(value, dict):
            out[name] = [f"{host}={ip}" for host, ips in sorted(value.items()) for ip in ips]
            continue
        kind = kinds.get(name)
        out[name] = _scalar(value, kind) if kind else to_data(value)
    ext = getattr(m, "extensions", None)
    if ext:
        out.update(to_data(ext))
    return out


def project_dict(project: Project) -> dict[str, Any]:
    """The whole project as ``config`` prints it."""
    out: dict[str, Any] = {"name": project.name}
    for key in _TOP_ORDER:
        entries = getattr(project, key)
        if entries:
            out[key] = to_data(entries)
    out.update(to_data(project.extensions))
    return out


class _Dumper(yaml.SafeDumper):
    """Indent sequences under their key, as compose does; block style for multi-line text."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = str(super().choose_scalar_style())
        return '"' if style == "'" else style  # compose quotes with double quotes


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    text = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )
    return str(text)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
