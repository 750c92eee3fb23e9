"""JSON and signals for the launcher without importing `json`, `re`, `enum` or `signal`.

Every container start pays for the launcher's imports. `json` pulls in `re`
(its decoder and encoder compile regexes at import), and `signal`/`socket` pull
in `enum`: together about 15-20 ms on these machines, a third of the
launcher's own start-up. The C accelerators behind `json` (`_json`) and
`signal` (`_signal`) do the same work without them. If `_json` is missing (not
CPython), the plain `json` module is used instead.
"""

from __future__ import annotations

import _signal
import os

from stackctl.timeline import mark

# Imported now, not on first use: the container's init calls dumps() after
# pivot_root, when the host's lib-dynload/ is no longer reachable.
try:
    import _json
except ImportError:  # pragma: no cover - not CPython
    _json = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SIGNALS", "dumps", "loads", "signal_number", "suppress", "trace"]

SIGNALS: dict[str, int] = {name: getattr(_signal, name) for name in dir(_signal)
                           if name.startswith("SIG") and not name.startswith("SIG_")
                           and isinstance(getattr(_signal, name), int)}
set_handler = _signal.signal


def signal_number(text: str) -> int:
    """"9", "KILL", "SIGKILL", "sigkill" -> 9; KeyError for an unknown name."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    return SIGNALS[name if name.startswith("SIG") else "SIG" + name]


class _DecodeContext:
    # The attributes _json.make_scanner reads (json.JSONDecoder's defaults).
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                      "-Infinity": float("-inf")}.__getitem__
    memo: dict[str, str] = {}


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode()
    if _json is None:  # pragma: no cover - not CPython
        import json

        return json.loads(text)
    body = text.strip(" \t\n\r")
    try:
        value, end = _json.make_scanner(_DecodeContext())(body, 0)  # type: ignore[arg-type]
    except StopIteration as exc:
        raise ValueError(f"invalid JSON at character {exc.value}") from None
    if end != len(body):
        raise ValueError(f"invalid JSON: extra data at character {end}")
    return value


def dumps(value: Any) -> str:
    if _json is None:  # pragma: no cover - not CPython
        import json

        return json.dumps(value)

    def default(obj: object) -> object:
        raise TypeError(f"{type(obj).__name__} is not JSON serializable")

    encoder = _json.make_encoder({}, default, _json.encode_basestring_ascii, None, ": ", ", ",
                                 False, False, True)
    return "".join(encoder(value, 0))


class suppress:
    """contextlib.suppress without contextlib's imports (collections, functools)."""

    def __init__(self, *exceptions: type[BaseException]) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, value: object, tb: object) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)


_trace_start: float | None = None


def enable_trace() -> None:
    """`launch --debug`: timestamped progress lines on stderr (parent and child)."""
    global _trace_start
    import time

    _trace_start = time.perf_counter()


def trace(what: str) -> None:
    mark(f"launcher: {what}")
    if _trace_start is not None:
        import time

        ms = (time.perf_counter() - _trace_start) * 1000
        os.write(2, f"launch[{os.getpid()}] {ms:7.2f} ms {what}\n".encode())
