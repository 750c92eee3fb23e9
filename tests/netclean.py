"""Release the networks of a throwaway state root (tests and bench scripts).

The default ``bridge`` network outlives its containers, as docker0 does, so a
root that ran a container on it keeps one bridge and one nftables table until
its networks are removed. No pytest here: bench/ scripts use it too.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def release_networks(root: Path, run_root: Path) -> None:
    """Remove every network of ``root`` that no container uses, and its table.

    Containers are the caller's business (the leak check reports what is left
    running); a network still in use stays, and shows up as a leak.
    """
    if not (Path(root) / "state.db").exists():
        return
    from stackctl.net.manager import NetworkManager

    with NetworkManager(root, run_root) as nm:
        for info in nm.networks():
            with contextlib.suppress(Exception):
                nm.remove(info.name)
        if not nm.networks():
            nm.firewall.drop()
