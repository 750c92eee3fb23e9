"""Docker's human-readable units (go-units) and its aligned tables, shared by the CLI
and the engine's listings.

Standard library only: imported on cold CLI paths (ps, images).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["bytes_size", "human_duration", "human_size", "table"]


def human_size(size: float, precision: int = 4) -> str:
    """go-units HumanSizeWithPrecision: decimal units (kB, MB, GB).

    ``docker images`` uses 3 significant digits, HumanSize (ps -s, compose) 4.
    """
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
    i = 0
    while abs(size) >= 1000 and i < len(units) - 1:
        size /= 1000
        i += 1
    return f"{size:.{precision}g}{units[i]}"


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units (KiB, MiB, GiB), as ``stats`` prints memory."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    i = 0
    while abs(size) >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "5 seconds", "About an hour"…"""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def table(rows: Sequence[Sequence[str]], *, keep_padding: bool = False,
          minwidth: int = 0) -> str:
    """Rows (the header first) as the docker CLI prints them through Go's tabwriter:
    every column but the last padded to its widest cell, three spaces apart, and to
    ``minwidth`` at least (docker's list formatter says 10, ``top`` 20); the last
    cell is not padded. ``keep_padding``: a line whose last cells are empty keeps the
    padding before them, as tabwriter does (``images``, ``history``, ``system df``);
    otherwise trailing spaces are stripped."""
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in rows:
        line = "".join(cell.ljust(max(widths[i] + 3, minwidth))
                       for i, cell in enumerate(row[:-1]))
        line += row[-1] if row else ""
        lines.append(line if keep_padding else line.rstrip())
    return "\n".join(lines)
