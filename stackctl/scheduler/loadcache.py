"""A cache of loaded stacks, so that a no-op ``up`` needs no YAML parser and no
pydantic (their imports alone are most of its time budget).

An entry maps the inputs of a load to its result (LoadedStack as JSON):

    key   sha256 of the LoadOptions, the selected services, the working
          directory and the whole process environment (interpolation reads it)
    deps  every file the result depends on, with (mtime_ns, size, inode); plus
          the default stack-file and .env names that did NOT exist, so creating
          an override file invalidates the entry too

A hit re-stats the deps and uses the entry only if every one is unchanged.
Stacks whose files use ``extends`` or ``include`` are not cached: the files
those pull in are not visible in the result. Entries live under
``<state root>/cache/stacks/`` and are written atomically; a corrupt or stale
entry is simply a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
                 "stack.yaml", "compose.override.yaml", "compose.override.yml",
                 "docker-compose.override.yaml", "docker-compose.override.yml",
                 "stack.override.yaml", ".env")
_UNCACHEABLE = re.compile(rb"^\s*(extends|include)\s*:", re.MULTILINE)
VERSION = 1


def cache_key(options: Mapping[str, Any], services: Iterable[str], cwd: str,
              environ: Mapping[str, str]) -> str:
    blob = json.dumps({"v": VERSION, "opts": options, "services": sorted(services), "cwd": cwd,
                       "env": sorted(environ.items())}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _stat(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None]
    return [path, st.st_mtime_ns, st.st_size, st.st_ino]


def dependencies(files: Iterable[str], config: Mapping[str, Any], working_dir: str,
                 env_files: Iterable[str]) -> list[str] | None:
    """The files a loaded stack depends on; None when it cannot be cached."""
    deps = {f for f in files if f and f != "-"}
    if not deps:
        return None  # stdin
    for f in deps:
        try:
            if _UNCACHEABLE.search(Path(f).read_bytes()):
                return None
        except OSError:
            return None
    deps.update(env_files)
    for base in {working_dir, os.getcwd()}:
        deps.update(str(Path(base) / n) for n in DEFAULT_NAMES)
    for svc in (config.get("services") or {}).values():
        for key in ("env_file", "label_file"):
            for entry in svc.get(key) or ():
                path = entry.get("path") if isinstance(entry, Mapping) else entry
                if path:
                    deps.add(str(Path(working_dir) / str(path)))
    return sorted(deps)


def load(cache_dir: Path, key: str) -> dict[str, Any] | None:
    try:
        entry = json.loads((cache_dir / f"{key}.json").read_text())
        if entry.get("v") != VERSION:
            return None
        if any(_stat(d[0]) != d for d in entry["deps"]):
            return None
        result: dict[str, Any] = entry["stack"]
        return result
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def store(cache_dir: Path, key: str, deps: list[str], stack: Mapping[str, Any]) -> None:
    import time

    stats = [_stat(d) for d in deps]
    # a file changed within the mtime granularity could be edited again unseen: skip
    if any(s[1] is not None and time.time_ns() - s[1] < 2_000_000_000 for s in stats):
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"v": VERSION, "deps": stats, "stack": stack}))
        os.replace(tmp, cache_dir / f"{key}.json")
    except OSError:
        pass  # a cache that cannot be written is only a slower next run


__all__ = ["cache_key", "dependencies", "load", "store"]
