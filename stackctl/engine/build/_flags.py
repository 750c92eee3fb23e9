"""Instruction flags (``--from=stage``, ``--link``): BuildKit's BFlags rules."""

from __future__ import annotations

from collections.abc import Mapping

from stackctl.lightdc import dataclass

__all__ = ["FlagError", "Flags", "parse_flags"]

# kinds: "string" (once), "bool" (once, bare or =true/false), "list" (repeatable)


class FlagError(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Flags:
    values: Mapping[str, str | bool | tuple[str, ...]]

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        return value if isinstance(value, str) else None

    def boolean(self, name: str) -> bool:
        return self.values.get(name) is True

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.values.get(name)
        return value if isinstance(value, tuple) else ()


def parse_flags(raw: tuple[str, ...], spec: Mapping[str, str], cmd: str) -> Flags:
    values: dict[str, str | bool | tuple[str, ...]] = {}
    known = ", ".join("--" + n for n in sorted(spec)) or "none"
    for arg in raw:
        if not arg.startswith("--"):
            raise FlagError(f"arg should start with -- : {arg}")
        name, eq, value = arg[2:].partition("=")
        kind = spec.get(name)
        if kind is None:
            raise FlagError(
                f"unknown flag: --{name}", hint=f"{cmd.upper()} accepts: {known}"
            )
        if kind == "list":
            if not eq:
                raise FlagError(f"missing a value on flag: --{name}")
            prev = values.get(name, ())
            values[name] = (*prev, value) if isinstance(prev, tuple) else (value,)
            continue
        if name in values:
            raise FlagError(f"Duplicate flag specified: --{name}")
        if kind == "bool":
            if not eq or value.lower() == "true":
                values[name] = True
            elif value.lower() == "false":
                values[name] = False
            else:
                raise FlagError(f"expecting boolean value for flag --{name}, not: {value}")
        else:
            if not eq:
                raise FlagError(f"missing a value on flag: --{name}")
            values[name] = value
    return Flags(values)
