"""Addresses in quarantine: released endpoints whose veth is not gone yet.

When a container's network namespace is released, the kernel destroys its
veths 10-30 ms later (its namespace cleanup waits out RCU grace periods). An
address must not be leased again before: the dying namespace still holds it,
and its stale ARP answers could shadow the new holder. NetworkManager's
teardown waits for the veths; a foreground ``run --rm`` does not, and puts the
addresses of veths still there in the ``draining`` table instead (schema in
engine/state.py), with the veth's name and interface index. Leases skip those
addresses; ``purge`` (every setup runs it) frees the ones whose veth has gone.

A veth still there after UNPLUG_WAIT belongs to a namespace something holds (a
process joined it): it is deleted. A veth of the same name with another index
is a new one (the container started again): the old one is gone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence

from stackctl.engine.state import StateStore
from stackctl.net.model import Endpoint

UNPLUG_WAIT = 1.0  # seconds for the kernel's cleanup of a namespace's veths


def plugged(eps: Sequence[Endpoint]) -> list[tuple[Endpoint, int]]:
    """The endpoints whose host veth still exists, with its interface index."""
    if not eps:
        return []
    from stackctl.net.netlink import Netlink

    with Netlink() as nl:
        found = [(ep, nl.link_index(ep.host_veth)) for ep in eps]
    return [(ep, index) for ep, index in found if index is not None]


def quarantine(db: sqlite3.Connection, left: Sequence[tuple[Endpoint, int]]) -> None:
    """Put the addresses of ``left`` (from ``plugged``) in quarantine, in the
    caller's transaction (the one that drops their leases)."""
    now = time.time()
    db.executemany(
        "INSERT OR REPLACE INTO draining (network_id, ip, host_veth, ifindex, since)"
        " VALUES (?,?,?,?,?)",
        [(ep.network_id, str(ep.address.ip), ep.host_veth, index, now) for ep, index in left])


def purge(state: StateStore, *, mine: Iterable[str] = (),
          wanted: Iterable[tuple[str, str]] = ()) -> None:
    """Free the addresses whose old veth is gone, or was deleted here: after
    UNPLUG_WAIT; at once for a container starting again (``mine``: its veths'
    names, which it would delete anyway: it gets its old addresses back); and for
    an address asked for with --ip (``wanted``: (network id, ip)), after waiting
    for its veth up to UNPLUG_WAIT."""
    rows = state.db.execute(
        "SELECT network_id, ip, host_veth, ifindex, since FROM draining").fetchall()
    if not rows:
        return
    from stackctl.net.netlink import Netlink

    mine, wanted = set(mine), set(wanted)
    done = []
    with Netlink() as nl:
        for network_id, ip, veth, ifindex, since in rows:
            if veth not in mine and (network_id, ip) in wanted:
                while nl.link_index(veth) == ifindex and time.time() - since < UNPLUG_WAIT:
                    time.sleep(0.005)
            if nl.link_index(veth) == ifindex:
                if veth not in mine and (network_id, ip) not in wanted \
                        and time.time() - since < UNPLUG_WAIT:
                    continue  # the kernel is still at it: ask again next time
                nl.delete_link(veth)
            done.append((network_id, ip))
    with state.transaction() as db:
        db.executemany("DELETE FROM draining WHERE network_id = ? AND ip = ?", done)


__all__ = ["UNPLUG_WAIT", "plugged", "purge", "quarantine"]
