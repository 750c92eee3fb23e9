"""Building blocks shared by the stack-file models.

Every model is frozen and forbids unknown keys; models that the compose spec
lets carry ``x-*`` extensions keep them in ``extensions`` (they come back out
in the same place when serialised).

Values reach the models after interpolation, so everything a user typed as a
number or boolean may arrive as a string: the scalar types below accept both
(pydantic's lax mode for ints/floats/bools, plus numbers -> str). When the
project is loaded with interpolation OFF (``config --no-interpolate``, schema
checks of ``using-variables.yaml``), a field may still hold ``${VAR}``: the
``lenient`` wrapper lets such a string through unchanged when the validation
context says ``{"raw": True}``, exactly as compose applies its schema before
interpolation.

The model modules do not use ``from __future__ import annotations`` on
purpose: pydantic would evaluate every string annotation again at import
(about a quarter of the model build time, which every stack command pays).
"""

import shlex
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from stackctl.spec.units import UnitError, parse_bytes, parse_duration

__all__ = [
    "Bool",
    "Bytes",
    "Duration",
    "ExtModel",
    "Float",
    "Int",
    "SpecModel",
    "Str",
    "StrDict",
    "StrList",
    "StrOrNoneDict",
    "lenient",
]

EXTENSIONS_KEY = "__extensions__"


class SpecModel(BaseModel):
    """Frozen, unknown keys rejected, numbers accepted where strings are expected."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        coerce_numbers_to_str=True,
        validate_default=False,
    )


class ExtModel(SpecModel):
    """A model whose mapping may carry ``x-*`` extension keys."""

    extensions: dict[str, Any] = Field(default_factory=dict, validation_alias=EXTENSIONS_KEY)

    @model_validator(mode="before")
    @classmethod
    def _split_extensions(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and any(
            isinstance(k, str) and k.startswith("x-") for k in data
        ):
            ext = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("x-")}
            data = {k: v for k, v in data.items() if k not in ext}
            data[EXTENSIONS_KEY] = ext
        return data


def _has_variable(value: Any) -> bool:
    if isinstance(value, list):
        return any(_has_variable(v) for v in value)
    return isinstance(value, str) and "$" in value


def _allow_variable(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    try:
        return handler(value)
    except (ValidationError, ValueError):
        ctx = info.context
        if ctx and ctx.get("raw") and _has_variable(value):
            return value  # uninterpolated ${VAR}: checked again once interpolated
        raise


lenient = WrapValidator(_allow_variable)


def _to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _duration(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return parse_duration(value)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"expected a duration such as 30s or 1m30s, got {value!r}")


def _bytes(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return parse_bytes(value)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(f"expected a byte size such as 512m or 1g, got {value!r}")


def _str_list(value: Any) -> Any:
    """A single string (or number) where a list is allowed becomes a one-item list."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [value]
    return value


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"expected a string, number or null, got {type(value).__name__}")


def list_or_dict(value: Any, *, allow_null: bool = True, sep: str = "=") -> Any:
    """``["A=1", "B"]`` or ``{A: 1, B: null}`` -> ``{"A": "1", "B": None}``.

    The list form's ``KEY`` alone means "no value here" (for environment: take it
    from the shell); with ``allow_null`` False it becomes the empty string.
    """
    if isinstance(value, Mapping):
        out: dict[str, str | None] = {}
        for k, v in value.items():
            text = _scalar_text(v)
            out[str(k)] = text if (text is not None or allow_null) else ""
        return out
    if isinstance(value, list):
        out = {}
        for item in value:
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise ValueError(f"expected KEY{sep}VALUE strings, got {item!r}")
            key, found, val = str(item).partition(sep)
            if not key:
                raise ValueError(f"expected KEY{sep}VALUE, got {item!r} (empty key)")
            out[key] = val if found else (None if allow_null else "")
        return out
    if value is None:
        return value
    raise ValueError(f"expected a mapping or a list of KEY{sep}VALUE strings, got {value!r}")


def _lod_nullable(value: Any) -> Any:
    return list_or_dict(value, allow_null=True)


def _lod_strict(value: Any) -> Any:
    return list_or_dict(value, allow_null=False)


def command_list(value: Any) -> Any:
    """A command or entrypoint: a string is split like a POSIX shell would."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split {value!r} into words: {exc}") from None
    return value


# json_schema_input_type: what ``config --schema`` tells editors a key accepts
# (the written forms), as opposed to the canonical form the model holds.
_Scalar = str | int | float | bool
_LoD = list[str] | dict[str, _Scalar | None]

Str = Annotated[str, BeforeValidator(_to_str, json_schema_input_type=_Scalar)]
Int = Annotated[int, WrapValidator(_allow_variable, json_schema_input_type=int | str)]
Float = Annotated[float, WrapValidator(_allow_variable, json_schema_input_type=float | str)]
Bool = Annotated[bool, WrapValidator(_allow_variable, json_schema_input_type=bool | str)]
Duration = Annotated[
    float, BeforeValidator(_duration, json_schema_input_type=str | int | float), lenient
]
Bytes = Annotated[int, BeforeValidator(_bytes, json_schema_input_type=str | int), lenient]
StrList = Annotated[list[Str], BeforeValidator(_str_list, json_schema_input_type=str | list[str])]
StrOrNoneDict = Annotated[
    dict[str, str | None], BeforeValidator(_lod_nullable, json_schema_input_type=_LoD)
]
StrDict = Annotated[dict[str, str], BeforeValidator(_lod_strict, json_schema_input_type=_LoD)]
Command = Annotated[
    list[str], BeforeValidator(command_list, json_schema_input_type=str | list[str])
]
