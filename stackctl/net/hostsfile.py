"""Peer lines in containers' /etc/hosts, kept current beside the DNS responder.

Resolution has two sources, and both say the same thing:

* the embedded DNS responder (dns.py), always current, needed by clients
  that speak DNS themselves (busybox ``nslookup``, dig, Go's pure resolver);
* these hosts files, for libc clients while no responder runs (a monitor
  that was killed, a container started by an engine without one).

Each container's file keeps its first part (localhost, its own address and
hostname) and below ``MARKER`` one line per peer endpoint on every network
it shares. Every change of endpoints rewrites the files of the containers on
the affected networks, *in place* (same inode): the file is bind-mounted
into the container, and a rename would leave the container reading the old
one. A reader can race a rewrite; glibc rereads on its next lookup.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

MARKER = "# containers on shared networks (kept current by stackctl)"

_PEERS_SQL = """
    SELECT me.container_id AS me, e.container_id AS peer, e.ip, e.aliases, c.name
    FROM endpoints me
    JOIN endpoints e ON e.network_id = me.network_id AND e.container_id != me.container_id
    LEFT JOIN containers c ON c.id = e.container_id
    WHERE me.container_id IN (SELECT container_id FROM endpoints WHERE network_id IN ({q}))
    ORDER BY e.ip
"""


def peer_lines(db: sqlite3.Connection, network_ids: Iterable[str]) -> dict[str, list[str]]:
    """For every container on ``network_ids``: its peer lines (on all its networks)."""
    import json

    ids = sorted(set(network_ids))
    if not ids:
        return {}
    out: dict[str, list[str]] = defaultdict(list)
    members = {r[0] for r in db.execute(
        f"SELECT container_id FROM endpoints WHERE network_id IN ({','.join('?' * len(ids))})",
        ids)}
    for cid in members:
        out[cid] = []
    seen: set[tuple[str, str]] = set()
    for r in db.execute(_PEERS_SQL.format(q=",".join("?" * len(ids))), ids):
        me, peer, ip = r[0], r[1], r[2]
        if (me, ip) in seen:
            continue
        seen.add((me, ip))
        names = [n for n in (r[4], *json.loads(r[3])) if n]
        names.append(peer[:12])
        out[me].append(f"{ip}\t{' '.join(dict.fromkeys(names))}")
    return dict(out)


def rewrite(path: Path, lines: list[str]) -> bool:
    """Replace the peer part of ``path`` in place; False when there is no file."""
    try:
        with open(path, "r+") as f:
            head = f.read().split(MARKER, 1)[0].rstrip("\n")
            f.seek(0)
            f.write(head + "\n" + MARKER + "\n" + "".join(ln + "\n" for ln in lines))
            f.truncate()
    except FileNotFoundError:
        return False
    return True


def refresh(db: sqlite3.Connection, network_ids: Iterable[str],
            locate: Callable[[str], Iterable[Path]]) -> int:
    """Rewrite the hosts files of every container on ``network_ids``."""
    done = 0
    for cid, lines in peer_lines(db, network_ids).items():
        for path in locate(cid):
            if rewrite(path, lines):
                done += 1
                break
    return done


__all__ = ["MARKER", "peer_lines", "refresh", "rewrite"]
