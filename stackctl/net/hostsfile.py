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

# every endpoint on every network of every container on the given networks
_SQL = """
    SELECT e.network_id, e.container_id, e.ip, e.aliases, c.name FROM endpoints e
    LEFT JOIN containers c ON c.id = e.container_id
    WHERE e.network_id IN (
        SELECT network_id FROM endpoints WHERE container_id IN (
            SELECT container_id FROM endpoints WHERE network_id IN ({q})))
    ORDER BY e.ip
"""


def peer_lines(db: sqlite3.Connection, network_ids: Iterable[str]) -> dict[str, list[str]]:
    """For every container on ``network_ids``: its peer lines (on all its networks).

    One query of O(endpoints) rows; each endpoint's line is built once.
    """
    import json

    ids = sorted(set(network_ids))
    if not ids:
        return {}
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)  # net -> (cid, line)
    nets_of: dict[str, list[str]] = defaultdict(list)
    for net, cid, ip, aliases, name in db.execute(_SQL.format(q=",".join("?" * len(ids))), ids):
        names = [n for n in (name, *json.loads(aliases)) if n]
        names.append(cid[:12])
        members[net].append((cid, f"{ip}\t{' '.join(dict.fromkeys(names))}"))
        nets_of[cid].append(net)
    wanted = {cid for net in ids for cid, _ in members.get(net, [])}
    out: dict[str, list[str]] = {}
    for cid in wanted:
        lines = dict.fromkeys(line for net in nets_of[cid] for peer, line in members[net]
                              if peer != cid)
        out[cid] = list(lines)
    return out


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
