"""``system df``: disk usage of images (from the image store), containers (their
overlay upper dirs) and local volumes, rendered as Docker prints it.

Images come from ``usage.py`` (shared layers counted once); container and
volume sizes are ``du``-style walks of their directories.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from stackctl.engine.images import present, reference
from stackctl.engine.images.store import ImageStore
from stackctl.engine.images.usage import StoreUsage
from stackctl.humanize import table
from stackctl.lightdc import dataclass

ACTIVE_STATUSES = ("running", "paused", "restarting")


@dataclass(frozen=True)
class DfLine:
    type: str
    total: int
    active: int
    size: int
    reclaimable: int

    def cells(self) -> list[str]:
        pct = f" ({int(100 * self.reclaimable / self.size)}%)" if self.size else ""
        return [self.type, str(self.total), str(self.active), present.human_size(self.size),
                present.human_size(self.reclaimable) + pct]

    def to_json(self) -> dict[str, str]:
        c = self.cells()
        return {"Type": c[0], "TotalCount": c[1], "Active": c[2], "Size": c[3],
                "Reclaimable": c[4]}


def du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def collect(root: Path) -> tuple[StoreUsage, list[DfLine], list[tuple[str, str, int, bool]],
                                 list[tuple[str, int, int]]]:
    with ImageStore(root) as store:
        usage = store.disk_usage()
        db = store.state.db
        containers = [(r["id"], r["name"], du(root / "containers" / r["id"] / "diff"),
                       r["status"] in ACTIVE_STATUSES)
                      for r in db.execute("SELECT id, name, status FROM containers")]
        volumes: list[tuple[str, int, int]] = []
        try:
            from stackctl.engine.volumes import VolumeStore

            vs = VolumeStore(root, store.state)
            volumes = [(v.name, len(vs.users(v.name)), du(Path(v.mountpoint)))
                       for v in vs.list()]
        except ImportError:  # the engine's volume store is not installed
            volumes = []
    lines = [
        DfLine("Images", len(usage.images), usage.active, usage.total_size, usage.reclaimable),
        DfLine("Containers", len(containers), sum(1 for c in containers if c[3]),
               sum(c[2] for c in containers), sum(c[2] for c in containers if not c[3])),
        DfLine("Local Volumes", len(volumes), sum(1 for v in volumes if v[1]),
               sum(v[2] for v in volumes), sum(v[2] for v in volumes if not v[1])),
        DfLine("Build Cache", 0, 0, 0, 0),
    ]
    return usage, lines, containers, volumes


def _table(rows: list[list[str]]) -> str:
    return table(rows, keep_padding=True, minwidth=10)  # docker's formatter tabwriter


def render_df(root: Path, *, verbose: bool = False, fmt: str = "") -> str:
    usage, lines, containers, volumes = collect(root)
    if fmt == "json":
        return "\n".join(json.dumps(x.to_json(), separators=(",", ":")) for x in lines)
    if not verbose:
        return _table([["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                       *(x.cells() for x in lines)])
    now = datetime.now(UTC)
    out = ["Images space usage:", ""]
    rows = [["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE",
             "UNIQUE SIZE", "CONTAINERS"]]
    for u in usage.images:
        names: list[reference.Reference | None] = [reference.parse(r) for r in u.record.refs]
        names = names or [None]
        for n in names:
            rows.append([n.familiar_name if n else "<none>", (n.tag or "<none>") if n
                         else "<none>", u.record.short_id, present.ago(u.record.created, now),
                         present.human_size(u.size), present.human_size(u.shared_size),
                         present.human_size(u.unique_size), str(u.containers)])
    out += [_table(rows), "", "Containers space usage:", ""]
    out.append(_table([["CONTAINER ID", "NAMES", "SIZE", "ACTIVE"],
                       *([c[0][:12], c[1], present.human_size(c[2]), str(c[3]).lower()]
                         for c in containers)]))
    out += ["", "Local Volumes space usage:", ""]
    out.append(_table([["VOLUME NAME", "LINKS", "SIZE"],
                       *([v[0], str(v[1]), present.human_size(v[2])] for v in volumes)]))
    return "\n".join(out)


__all__ = ["DfLine", "collect", "render_df"]
