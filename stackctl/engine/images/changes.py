"""``--change`` instructions for ``import`` and ``commit``: Dockerfile lines that only
change the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
VOLUME, WORKDIR, STOPSIGNAL, SHELL). Pure; errors name the offending change.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from stackctl.engine.images.config import ImageConfig
from stackctl.errors import ImageError
from stackctl.lightdc import replace

SUPPORTED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME",
             "WORKDIR", "STOPSIGNAL", "SHELL")
_HINT = "use e.g. -c 'CMD [\"sh\"]', -c 'ENV KEY=value', -c 'EXPOSE 80/tcp', -c 'WORKDIR /app'"


def apply_changes(config: ImageConfig, changes: Sequence[str]) -> ImageConfig:
    for change in changes:
        config = apply_change(config, change)
    return config


def apply_change(config: ImageConfig, change: str) -> ImageConfig:
    keyword, _, rest = change.strip().partition(" ")
    kw, rest = keyword.upper(), rest.strip()
    if kw not in SUPPORTED:
        raise ImageError(f"--change {change!r}: {keyword or 'empty'} is not a change "
                         f"import/commit can make (one of {', '.join(SUPPORTED)})", hint=_HINT)
    if not rest:
        raise ImageError(f"--change {change!r}: {kw} needs an argument", hint=_HINT)
    shell = config.shell or ("/bin/sh", "-c")
    if kw in ("CMD", "ENTRYPOINT"):
        argv = _json_list(rest)
        if argv is None:
            argv = (*shell, rest)
        return replace(config, cmd=argv) if kw == "CMD" else replace(config, entrypoint=argv)
    if kw == "SHELL":
        argv = _json_list(rest)
        if argv is None:
            raise ImageError(f"--change {change!r}: SHELL needs a JSON array", hint=_HINT)
        return replace(config, shell=argv)
    if kw in ("ENV", "LABEL"):
        pairs = _pairs(rest, change, kw)
        if kw == "ENV":
            for k, v in pairs:
                config = config.with_env(k, v)
            return config
        return config.with_labels(dict(pairs))
    if kw == "EXPOSE":
        ports = set(config.exposed_ports)
        for p in rest.split():
            port, _, proto = p.partition("/")
            if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("", "tcp",
                                                                                  "udp", "sctp"):
                raise ImageError(f"--change {change!r}: invalid port {p!r}", hint=_HINT)
            ports.add(f"{int(port)}/{proto or 'tcp'}")
        return replace(config, exposed_ports=tuple(sorted(ports)))
    if kw == "VOLUME":
        vols = _json_list(rest) or tuple(rest.split())
        return replace(config, volumes=tuple(sorted(set(config.volumes) | set(vols))))
    if kw == "ONBUILD":
        return replace(config, on_build=(*config.on_build, rest))
    if kw == "USER":
        return replace(config, user=rest)
    if kw == "WORKDIR":
        import posixpath

        wd = rest if rest.startswith("/") else posixpath.join(config.working_dir or "/", rest)
        return replace(config, working_dir=posixpath.normpath(wd))
    return replace(config, stop_signal=rest)  # STOPSIGNAL


def _json_list(text: str) -> tuple[str, ...] | None:
    if not text.startswith("["):
        return None
    try:
        val = json.loads(text)
    except ValueError:
        return None
    if isinstance(val, list) and all(isinstance(x, str) for x in val):
        return tuple(val)
    return None


def _pairs(rest: str, change: str, kw: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise ImageError(f"--change {change!r}: {exc}", hint=_HINT) from exc
    if words and "=" not in words[0]:
        # legacy form: ENV KEY value with spaces
        key, _, value = rest.partition(" ")
        if not value.strip():
            raise ImageError(f"--change {change!r}: {kw} {key} has no value", hint=_HINT)
        return [(key, value.strip())]
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise ImageError(f"--change {change!r}: expected KEY=value, got {w!r}", hint=_HINT)
        out.append((key, value))
    return out


__all__ = ["SUPPORTED", "apply_change", "apply_changes"]
