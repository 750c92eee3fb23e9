"""Kernel interface names for networks and endpoints, derived deterministically.

Linux allows at most 15 bytes in an interface name (IFNAMSIZ - 1). Names are
derived from ids by hashing, so the same network or endpoint always maps to
the same interface: a crashed command can find and remove what it made
without any record of the name. User-given names (networks, a bridge name
option) are checked here, with an error that says which limit was broken.
"""

from __future__ import annotations

import re

from stackctl.errors import UsageError
from stackctl.hashing import sha256_hex

IFNAMSIZ = 15
DEFAULT_NETWORK = "bridge"
DEFAULT_BRIDGE = "stackctl0"
BRIDGE_PREFIX = "sc-"
VETH_PREFIX = "veth"
# Docker's own rule for network names, with a length cap so names fit in
# labels, DNS answers and error lines.
_NETWORK_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
MAX_NETWORK_NAME = 64
_IFNAME = re.compile(r"^[a-zA-Z0-9_.-]+$")


def _digest(*parts: str) -> str:
    return sha256_hex("\0".join(parts).encode())


def bridge_name(network_id: str) -> str:
    """``sc-`` + 12 hex of the network id: 15 characters."""
    return BRIDGE_PREFIX + _digest("bridge", network_id)[: IFNAMSIZ - len(BRIDGE_PREFIX)]


def host_veth_name(container_id: str, network_id: str) -> str:
    """The host end of a container's veth on one network: ``veth`` + 11 hex."""
    return VETH_PREFIX + _digest("veth", container_id, network_id)[: IFNAMSIZ - len(VETH_PREFIX)]


def container_ifname(index: int) -> str:
    return f"eth{index}"


def mac_address(container_id: str, network_id: str) -> str:
    """A stable, locally administered unicast MAC (02:xx:...)."""
    raw = bytes.fromhex(_digest("mac", container_id, network_id)[:10])
    return "02:" + ":".join(f"{b:02x}" for b in raw)


def check_network_name(name: str) -> str:
    if not name:
        raise UsageError("network name is empty", hint="give the network a name, e.g. `backend`")
    if len(name) > MAX_NETWORK_NAME:
        raise UsageError(
            f"network name {name[:20]}... is {len(name)} characters long; "
            f"the limit is {MAX_NETWORK_NAME}",
            hint="choose a shorter name",
        )
    if not _NETWORK_NAME.match(name):
        raise UsageError(
            f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            hint="start with a letter or digit; use letters, digits, '_', '.', '-'",
        )
    return name


def check_ifname(name: str, *, what: str = "bridge name") -> str:
    """A user-chosen kernel interface name (e.g. ``-o bridge.name=br-x``)."""
    if not name or len(name.encode()) > IFNAMSIZ:
        raise UsageError(
            f"{what} {name!r} is {len(name.encode())} bytes long; "
            f"Linux interface names hold at most {IFNAMSIZ}",
            hint=f"choose a {what} of 1 to {IFNAMSIZ} characters",
        )
    if not _IFNAME.match(name) or name in (".", ".."):
        raise UsageError(
            f"invalid {what} {name!r}: use letters, digits, '_', '.', '-'",
        )
    return name


__all__ = [
    "DEFAULT_BRIDGE",
    "DEFAULT_NETWORK",
    "IFNAMSIZ",
    "bridge_name",
    "check_ifname",
    "check_network_name",
    "container_ifname",
    "host_veth_name",
    "mac_address",
]
