"""Named and anonymous volumes: directories under ``<root>/volumes/<name>/_data``.

A named volume (``-v data:/var/lib/x``) is created on first use; an anonymous
one (an image VOLUME, or ``-v /path`` alone) gets a 64-hex name and is removed
with its container by ``rm -v`` or ``--rm``. Like Docker, a volume that is new
and empty is seeded with what the image holds at the mount path (``seed``).
The rows live in the ``volumes`` table; "in use" is read from the containers'
configs, so there is no reference count to drift.

Options of the local driver (``volume create -o``, compose ``driver_opts``):
``type=none,o=bind,device=/path`` makes the volume a host directory, mounted
straight into each container that uses it (no mount on the host, nothing to
unmount; not seeded, so the image never writes into the user's directory).
Other types (tmpfs, nfs, ...) need a mount on the host that must outlive and
follow its containers; they are refused with a clear error rather than
silently turned into plain directories.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from stackctl.engine.containers import ContainerConfig
from stackctl.engine.logs import rfc3339_nano
from stackctl.engine.state import StateStore
from stackctl.errors import AlreadyExists, Conflict, NotFound, UsageError
from stackctl.fsutil import rmtree
from stackctl.lightdc import dataclass, field

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
    options: dict[str, str] = field(default_factory=dict)

    @property
    def device(self) -> str | None:
        """The host directory of a bind volume (``o=bind``), else None."""
        return self.options.get("device") if self.options else None

    def inspect(self) -> dict[str, object]:
        return {"CreatedAt": self.created, "Driver": self.driver, "Labels": self.labels,
                "Mountpoint": self.mountpoint, "Name": self.name,
                "Options": dict(self.options) or None, "Scope": "local"}


LOCAL_OPTIONS = ("type", "device", "o")


def check_options(name: str, options: dict[str, str]) -> dict[str, str]:
    """The local driver's options for volume ``name``, or UsageError naming what is wrong."""
    if not options:
        return {}
    unknown = sorted(set(options) - set(LOCAL_OPTIONS))
    if unknown:
        raise UsageError(f"volume {name}: unknown driver option {unknown[0]!r}",
                         hint="the local driver takes type, device and o")
    flags = [f for f in options.get("o", "").split(",") if f]
    kind = options.get("type", "none") or "none"
    if ("bind" not in flags and "rbind" not in flags) or kind != "none":
        raise UsageError(
            f"volume {name}: driver options type={kind} o={options.get('o', '')} are not "
            "supported (only type=none, o=bind: a host directory)",
            hint="use a bind mount or a tmpfs mount in the service, or a plain volume")
    device = options.get("device", "")
    if not device.startswith("/"):
        raise UsageError(f"volume {name}: device {device!r} must be an absolute path",
                         hint="o=bind volumes name a host directory")
    if not os.path.isdir(device):
        raise UsageError(f"volume {name}: device {device} is not a directory",
                         hint="create the directory first, as Docker requires")
    return {k: options[k] for k in LOCAL_OPTIONS if k in options}


class VolumeStore:
    def __init__(self, root: Path, store: StateStore) -> None:
        self.root = Path(root)
        self.store = store

    def path(self, name: str) -> Path:
        return self.root / "volumes" / name / "_data"

    def create(self, name: str, *, labels: dict[str, str] | None = None,
               anonymous: bool = False, exist_ok: bool = True,
               options: dict[str, str] | None = None) -> tuple[Volume, bool]:
        """Create ``name`` (or return the existing one); second value: newly made."""
        if not VOLUME_NAME_RE.match(name):
            raise UsageError(f"invalid volume name {name!r}",
                             hint="names match [a-zA-Z0-9][a-zA-Z0-9_.-]+")
        opts = check_options(name, options or {})
        with self.store.transaction() as db:
            row = db.execute("SELECT * FROM volumes WHERE name=?", (name,)).fetchone()
            if row is not None:
                if not exist_ok:
                    raise AlreadyExists(f"volume {name} already exists")
                return _volume(row), False
            data = self.path(name)
            data.mkdir(parents=True, exist_ok=True)
            db.execute("INSERT INTO volumes(name, driver, mountpoint, labels, anonymous, created,"
                       " options) VALUES (?, 'local', ?, ?, ?, ?, ?)",
                       (name, str(data), json.dumps(labels or {}), int(anonymous),
                        rfc3339_nano(), json.dumps(opts)))
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
        rmtree(self.root / "volumes" / name)

    def source(self, name: str) -> Path:
        """What a container mounts for volume ``name``: its device for a bind volume."""
        device = self.get(name).device
        return Path(device) if device else self.path(name)

    def seed(self, name: str, source: Path) -> None:
        """Copy the image's content at the mount point into a new, empty volume
        (never into a bind volume's host directory)."""
        import subprocess

        if self.get(name).device:
            return
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
                  created=r["created"],  # type: ignore[index]
                  options=json.loads(r["options"] or "{}"))  # type: ignore[index]


__all__ = ["Volume", "VolumeStore"]
