"""The JSON Schema of stack files, for editors (``stackctl config --schema``).

Generated from the models, so it cannot drift from what the loader accepts.
Fields state the forms users write (short syntax, strings for numbers) where
the models declare them; ``x-*`` keys are allowed wherever compose allows
them.
"""

from __future__ import annotations

from typing import Any

from stackctl.spec.models_base import EXTENSIONS_KEY
from stackctl.spec.models_top import StackFile

__all__ = ["json_schema"]


def _fix(node: Any) -> None:
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and EXTENSIONS_KEY in props:
            del props[EXTENSIONS_KEY]
            node["patternProperties"] = {"^x-": {}}
        for value in node.values():
            _fix(value)
    elif isinstance(node, list):
        for value in node:
            _fix(value)


def json_schema() -> dict[str, Any]:
    schema = StackFile.model_json_schema(mode="validation")
    _fix(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stackctl stack file"
    return schema
