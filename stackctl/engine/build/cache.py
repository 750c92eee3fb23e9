"""The build cache: step cache keys, and a crash-safe key -> image ID index.

A step is reused when all of these match (Docker's rules, not mtimes):

* the parent image ID: it covers everything before the step, config included;
* the step's history text after expansion (``created_by``): for RUN it holds
  the command and every build ARG in scope with its value (``|2 A=1 B=2``);
* the image config the step leaves behind;
* for COPY/ADD, the digest of the sources: names, contents, modes, owners,
  symlink targets (context.BuildContext.digest), and the source image of
  ``--from``;
* for RUN, its mounts and network mode.

The index lives beside the state database as one small file per key under
``<root>/buildcache/keys/`` written with temp + rename, so a crash never
leaves a half-written entry. An entry whose image was removed is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from stackctl.engine.build.plan import Step
from stackctl.lightdc import asdict

__all__ = ["BuildCache", "cache_key"]


def cache_key(parent_id: str, step: Step, sources_digest: str = "") -> str:
    """A stable key for ``step`` on top of ``parent_id``."""
    material: dict[str, object] = {
        "v": 1,
        "parent": parent_id,
        "kind": step.kind,
        "created_by": step.created_by,
        "sources": sources_digest,
        # The config the step leaves: the same text can mean a different config
        # on the same parent (ENTRYPOINT resets an inherited CMD only).
        "config": step.state.config.to_json(),
        "author": step.state.author,
    }
    if step.run is not None:
        material["run"] = {"mounts": [asdict(m) for m in step.run.mounts],
                           "network": step.run.network, "scripts": list(step.run.scripts),
                           "insecure": step.run.insecure}
    if step.copy is not None:
        material["copy"] = asdict(step.copy)
    blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


class BuildCache:
    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / "buildcache" / "keys"

    def _path(self, key: str) -> Path:
        return self.dir / key.split(":", 1)[-1]

    def get(self, key: str) -> str | None:
        try:
            return self._path(key).read_text().strip() or None
        except OSError:
            return None

    def put(self, key: str, image_id: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        dest = self._path(key)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}")
        tmp.write_text(image_id + "\n")
        os.replace(tmp, dest)

    def forget(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except OSError:
            pass

    def prune(self, exists: Callable[[str], bool], *, everything: bool = False) -> tuple[int, int]:
        """Drop entries whose image is gone (all of them, and the RUN --mount
        cache directories, with ``everything``); returns (entries, bytes freed)."""
        entries = freed = 0
        for path in list(self.dir.iterdir()) if self.dir.is_dir() else []:
            image_id = path.read_text().strip() if path.is_file() else ""
            if everything or not image_id or not exists(image_id):
                freed += path.stat().st_size
                path.unlink()
                entries += 1
        mounts = self.dir.parent / "mounts"
        if everything and mounts.is_dir():
            for dirpath, _dirs, files in os.walk(mounts):
                for name in files:
                    with contextlib.suppress(OSError):
                        freed += os.lstat(os.path.join(dirpath, name)).st_size
            shutil.rmtree(mounts, ignore_errors=True)
        return entries, freed
