"""Named and anonymous volumes: directories under ``<root>/volumes/<name>/_data``.

A named volume (``-v data:/var/lib/x``) is created on first use; an anonymous
one (an image VOLUME, or ``-v /path`` alone) gets a 64-hex name and is removed
with its container by ``rm -v`` or ``--rm``. Like Docker, a volume that is new
and empty is seeded with what the image holds at the mount path (``seed``).
The rows live in the ``volumes`` table; "in use" is read from the containers'
configs, so there is no reference count to drift.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from stackctl.engine.containers import ContainerConfig
from stackctl.engine.logs import rfc3339_nano
from stackctl.engine.state import StateStore
from stackctl.errors import AlreadyExists, Conflict, NotFound, UsageError
from stackctl.lightdc import dataclass

_Names = list[str]
VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass(frozen=True)
class Volume:
    name: str
    driver: str
    mountpoint: str
    labels: dict[str, str]
    anonymous: bool
    created: str

    def inspect(self) -> dict[str, object]:
        return {"CreatedAt": self.created, "Driver": self.driver, "Labels": self.labels,
                "Mountpoint": self.mountpoint, "Name": self.name, "Options": {},
                "Scope": "local"}


class VolumeStore:
    def __init__(self, root: Path, store: StateStore) -> None:
        self.root = Path(root)
        self.store = store

    def path(self, name: str) -> Path:
        return self.root / "volumes" / name / "_data"

    def create(self, name: str, *, labels: dict[str, str] | None = None,
               anonymous: bool = False, exist_ok: bool = True) -> tuple[Volume, bool]:
        """Create ``name`` (or return the existing one); second value: newly made."""
        if not VOLUME_NAME_RE.match(name):
            raise UsageError(f"invalid volume name {name!r}",
                             hint="names match [a-zA-Z0-9][a-zA-Z0-9_.-]+")
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
            if row is not None:
                if not exist_ok:
                    raise AlreadyExists(f"volume {name} already exists")
                return _volume(row), False
            data = self.path(name)
            data.mkdir(parents=True, exist_ok=True)
            db.execute("INSERT INTO volumes(name, driver, mountpoint, labels, anonymous, created)"
                       " VALUES (?, 'local', ?, ?, ?, ?)",
                       (name, str(data), json.dumps(labels or {}), int(anonymous),
                        rfc3339_nano()))
            row = db.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
        return _volume(row), True

    def get(self, name: str) -> Volume:
        row = self.store.db.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no such volume: {name}", hint="list them with `stackctl volume ls`")
        return _volume(row)

    def list(self) -> list[Volume]:
        return [_volume(r) for r in
                self.store.db.execute("SELECT * FROM volumes ORDER BY name").fetchall()]

    def users(self, name: str) -> _Names:
        """Names of the containers that mount volume ``name``."""
        out = []
        for row in self.store.db.execute("SELECT name, config FROM containers"):
            cfg = ContainerConfig.from_json(row["config"])
            if any(m.source == name and m.kind in ("volume", "anonymous") for m in cfg.mounts):
                out.append(row["name"])
        return out

    def remove(self, name: str, *, force: bool = False) -> None:
        self.get(name)
        users = self.users(name)
        if users and not force:
            raise Conflict(f"volume {name} is in use by container(s) {', '.join(users)}",
                           hint="remove the containers first (`stackctl rm -v`)")
        self._delete(name)

    def remove_if_unused(self, name: str) -> bool:
        try:
            self.get(name)
        except NotFound:
            return False
        if self.users(name):
            return False
        self._delete(name)
        return True

    def prune(self, *, all_: bool = False) -> _Names:
        """Remove unused volumes: anonymous ones, or every unused one with ``all_``."""
        removed = []
        for v in self.list():
            if (all_ or v.anonymous) and self.remove_if_unused(v.name):
                removed.append(v.name)
        return removed

    def _delete(self, name: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM volumes WHERE name=?", (name,))
        shutil.rmtree(self.root / "volumes" / name, ignore_errors=True)

    def seed(self, name: str, source: Path) -> None:
        """Copy the image's content at the mount point into a new, empty volume."""
        import subprocess

        dest = self.path(name)
        if not source.is_dir() or any(dest.iterdir()):
            return
        # cp -a keeps owners, modes, links and xattrs, which shutil.copytree does not.
        subprocess.run(["cp", "-a", f"{source}/.", f"{dest}/"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        st = source.stat()
        os.chown(dest, st.st_uid, st.st_gid)
        os.chmod(dest, st.st_mode & 0o7777)


def _volume(row: object) -> Volume:
    r = row  # sqlite3.Row
    return Volume(name=r["name"], driver=r["driver"], mountpoint=r["mountpoint"],  # type: ignore[index]
                  labels=json.loads(r["labels"]), anonymous=bool(r["anonymous"]),  # type: ignore[index]
                  created=r["created"])  # type: ignore[index]


__all__ = ["Volume", "VolumeStore"]
