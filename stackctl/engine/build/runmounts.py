"""``RUN --mount=...`` specs (BuildKit's syntax), parsed and checked. Pure.

Supported: ``type=cache`` (a directory kept between builds, by ``id`` or
target), ``type=tmpfs``, and ``type=bind`` from the build context or another
stage (read-only unless ``rw``). ``secret`` and ``ssh`` need a session the
offline builder does not have, and say so.
"""

from __future__ import annotations

from stackctl.lightdc import dataclass

__all__ = ["RunMount", "parse_mount"]

_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


@dataclass(frozen=True)
class RunMount:
    type: str
    target: str
    source: str = ""
    from_: str = ""
    id: str = ""
    readonly: bool = False
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: str = ""


def parse_mount(text: str) -> RunMount:
    """``type=cache,target=/x,id=y`` -> RunMount; ValueError says what is wrong."""
    import csv  # BuildKit reads the spec as one CSV record (quoted values may hold commas)

    fields = next(csv.reader([text]))
    values: dict[str, str] = {}
    flags: set[str] = set()
    for item in fields:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq:
            flags.add(key)
            continue
        values[key] = value
    kind = values.pop("type", "bind")
    if kind not in _TYPES:
        raise ValueError(f"unsupported mount type {kind!r}")
    if kind in ("secret", "ssh"):
        raise ValueError(f"type={kind} mounts need a build session, which offline builds "
                         "do not have")
    target = values.pop("target", values.pop("dst", values.pop("destination", "")))
    if not target:
        raise ValueError("mount target must be specified")
    readonly = "ro" in flags or "readonly" in flags or values.pop("ro", "") == "true" \
        or values.pop("readonly", "") == "true"
    if kind == "bind" and "rw" not in flags and "readwrite" not in flags:
        readonly = True
    mode = values.pop("mode", None)
    uid = values.pop("uid", None)
    gid = values.pop("gid", None)
    sharing = values.pop("sharing", "shared")
    if sharing not in ("shared", "private", "locked"):
        raise ValueError(f"unsupported sharing value {sharing!r}")
    mount = RunMount(
        type=kind,
        target=target,
        source=values.pop("source", values.pop("src", "")),
        from_=values.pop("from", ""),
        id=values.pop("id", ""),
        readonly=readonly,
        sharing=sharing,
        mode=int(mode, 8) if mode else None,
        uid=int(uid) if uid else None,
        gid=int(gid) if gid else None,
        size=values.pop("size", ""),
    )
    if values:
        raise ValueError(f"unexpected key {sorted(values)[0]!r} in mount")
    return mount
