"""Durations and byte sizes as compose and docker write them.

``parse_duration`` follows Go's ``time.ParseDuration`` (what compose-go uses
for ``interval``, ``timeout``, ``stop_grace_period``...): a sequence of
decimal numbers each with a unit (``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``,
``h``), e.g. ``1m30s`` or ``1.5h``. A bare number is taken as seconds (Go
rejects it, but users write ``timeout: 10`` and a plain int from YAML means
seconds everywhere else in compose).

``parse_bytes`` follows docker's ``units.RAMInBytes`` (used for ``mem_limit``,
``shm_size``, ``memory``...): a decimal number, an optional space, an optional
unit ``b k m g t p`` (any case), optionally followed by ``i`` and/or ``b``;
multiples are binary (``1k`` = 1024) whichever spelling is used.
"""

from __future__ import annotations

import math
import re

__all__ = ["UnitError", "format_duration", "parse_bytes", "parse_duration"]


class UnitError(ValueError):
    """A duration or byte size that cannot be parsed; the message says what was expected."""


_DURATION_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER = re.compile(r"[+-]?(\d+(?:\.\d*)?|\.\d+)")


def parse_duration(value: str | int | float) -> float:
    """``"1m30s"`` -> 90.0; ``"500ms"`` -> 0.5; ``"10"`` or ``10`` -> 10.0 seconds."""
    if isinstance(value, bool):
        raise UnitError(f"invalid duration {value!r}: expected e.g. 30s, 1m30s, 500ms")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise UnitError(f"invalid duration {value!r}: must be a non-negative number")
        return float(value)
    text = value.strip()
    if _NUMBER.fullmatch(text):
        seconds = float(text)
        if seconds < 0:
            raise UnitError(f"invalid duration {value!r}: must not be negative")
        return seconds
    sign = 1.0
    body = text
    if body[:1] in "+-" and body:
        sign = -1.0 if body[0] == "-" else 1.0
        body = body[1:]
    total = 0.0
    pos = 0
    while pos < len(body):
        m = _DURATION_PART.match(body, pos)
        if m is None:
            raise UnitError(
                f"invalid duration {value!r}: expected a number with a unit "
                "(ns, us, ms, s, m, h), e.g. 30s, 1m30s, 500ms"
            )
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not body:
        raise UnitError(f"invalid duration {value!r}: empty")
    if sign < 0 and total > 0:
        raise UnitError(f"invalid duration {value!r}: must not be negative")
    return total


def format_duration(seconds: float) -> str:
    """The Go-style text for ``seconds`` (``90.0`` -> ``1m30s``), as ``config`` prints it."""
    if seconds == 0:
        return "0s"
    ns = round(seconds * 1e9)
    out = ""
    hours, ns = divmod(ns, 3_600_000_000_000)
    minutes, ns = divmod(ns, 60_000_000_000)
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    if ns == 0:
        return out + "0s"
    if not out and ns < 1_000_000_000:
        # Go prints sub-second durations in the largest unit that keeps an integer part.
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return _trim(ns / size) + unit
    return out + _trim(ns / 1e9) + "s"


def _trim(number: float) -> str:
    text = f"{number:.9f}".rstrip("0").rstrip(".")
    return text or "0"


_BYTES = re.compile(r"(\d+(?:\.\d*)?|\.\d+) ?([kmgtp]?)(i?)(b?)", re.IGNORECASE)
_MULTIPLIER = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: str | int | float) -> int:
    """``"512m"`` -> 536870912; ``"1.5GB"`` -> 1610612736; ``"100"`` or ``100`` -> 100."""
    if isinstance(value, bool):
        raise UnitError(f"invalid size {value!r}: expected e.g. 512m, 1g, 100k")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"invalid size {value!r}: must not be negative")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise UnitError(f"invalid size {value!r}: must be a non-negative number")
        return int(value)
    m = _BYTES.fullmatch(value.strip())
    if m is None:
        raise UnitError(
            f"invalid size {value!r}: expected a number with an optional unit "
            "(b, k, m, g, t, p; e.g. 512m, 1g, 1.5GB)"
        )
    number, unit, binary, _b = m.groups()
    if binary and not unit:
        raise UnitError(f"invalid size {value!r}: 'i' needs a unit before it (e.g. 1Gi)")
    return int(float(number) * _MULTIPLIER[unit.lower()])
