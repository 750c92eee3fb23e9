"""nftables: published-port DNAT, outbound masquerade, isolation between networks.

Why DNAT in the kernel rather than a userland proxy in the monitor: a proxy
copies every byte through a Python process twice (and holds two sockets per
connection), while a DNAT'ed connection is plain kernel forwarding after its
first packet; see bench/port_forward.py for the figures. DNAT also keeps
working when the monitor is killed, and keeps the client's source address.
Loopback works too: ``route_localnet`` on the bridge lets a 127.0.0.1-sourced
packet leave through it, and it is masqueraded to the gateway address.

Each state root gets its own table (``ip stackctl`` for the default root,
``ip stackctl_<hash>`` for others), so separate roots never touch each other's
rules and removing the last network drops the whole table. Per-container
state is *elements* of maps and sets, not rules: publishing a port is one
``add element``, unpublishing one ``delete element``, each atomic.

    set  bridges    ifname                    every bridge of this root
    set  subnets    ipv4 intervals            every subnet (hairpin masquerade)
    set  masq       ipv4 intervals            subnets of non-internal networks
    map  ports_any  proto . port  -> ip . port   published on 0.0.0.0
    map  ports_ip   ip . proto . port -> ip . port   published on one host address
    map  isolate    ifname -> jump iso_<bridge>  per-network forward policy

The ``nft`` command is run with a script on stdin; when it is missing, the
caller gets ``FirewallUnavailable`` with a clear message and decides (ports
cannot be published; outbound traffic is not masqueraded).
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from pathlib import Path

from stackctl.errors import NetError
from stackctl.hashing import sha256_hex
from stackctl.lightdc import dataclass
from stackctl.net.ports import PortMapping

TYPE_CHECKING = False  # typing and subprocess: ~5 ms of every bridge run, which rarely calls nft
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = Path("/var/lib/stackctl")


class FirewallUnavailable(NetError):
    pass


def table_name(root: Path) -> str:
    if Path(root).resolve() == DEFAULT_ROOT:
        return "stackctl"
    return "stackctl_" + sha256_hex(str(Path(root).resolve()).encode())[:10]


_SKELETON = """
table ip {t} {{
  set bridges {{ type ifname; }}
  set subnets {{ type ipv4_addr; flags interval; }}
  set masq {{ type ipv4_addr; flags interval; }}
  map ports_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
  map ports_ip {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}
  map isolate {{ type ifname : verdict; }}
  chain publish {{
    dnat ip to ip daddr . meta l4proto . th dport map @ports_ip
    dnat ip to meta l4proto . th dport map @ports_any
  }}
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local jump publish
  }}
  chain output {{
    type nat hook output priority -100; policy accept;
    fib daddr type local jump publish
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname @bridges ip saddr 127.0.0.0/8 masquerade
    oifname @bridges ct status dnat ip saddr @subnets masquerade
    oifname != @bridges ip saddr @masq masquerade
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    ct status dnat accept
    iifname vmap @isolate
  }}
}}
"""


@dataclass(frozen=True)
class Firewall:
    """The nftables table of one state root."""

    table: str

    @classmethod
    def for_root(cls, root: Path) -> Firewall:
        return cls(table_name(root))

    @staticmethod
    def available() -> bool:
        return _nft() is not None

    # -- plumbing --------------------------------------------------------------

    def _run(self, script: str, *, what: str) -> None:
        nft = _nft()
        if nft is None:
            raise FirewallUnavailable(
                f"{what}: nftables (the `nft` command) is not installed",
                hint="install nftables (apt-get install nftables) to publish ports "
                     "and masquerade outbound traffic",
            )
        import subprocess

        for attempt in range(20):
            proc = subprocess.run([nft, "-f", "-"], input=script, capture_output=True,
                                  text=True, check=False)
            if proc.returncode == 0:
                return
            # a script is one transaction: when its cache dump races a
            # concurrent change (EINTR) nothing was applied, so it can rerun
            if "Interrupted system call" not in proc.stderr:
                break
            time.sleep(0.005 * (attempt + 1))
        raise NetError(f"{what}: nft failed: {proc.stderr.strip()}")

    def _list(self) -> dict[str, Any] | None:
        nft = _nft()
        if nft is None:
            return None
        # Only "no such table" means absent. A dump that races a concurrent
        # ruleset change fails with EINTR ("cache initialization failed"):
        # taking that for "absent" left tables and rules behind when several
        # networks went down at once. Retry it instead.
        import subprocess

        for attempt in range(20):
            proc = subprocess.run([nft, "-j", "list", "table", "ip", self.table],
                                  capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                return json.loads(proc.stdout)  # type: ignore[no-any-return]
            if "No such file or directory" in proc.stderr:
                return None
            time.sleep(0.005 * (attempt + 1))
        raise NetError(f"cannot list nftables table {self.table}: {proc.stderr.strip()}")

    def exists(self) -> bool:
        return self._list() is not None

    def ensure(self) -> None:
        """Create the table if missing (adding an existing table is a no-op)."""
        if not self.exists():
            self._run(_SKELETON.format(t=self.table), what="create the nftables table")

    def drop(self) -> None:
        if self.exists():
            self._run(f"delete table ip {self.table}\n", what="delete the nftables table")

    # -- networks --------------------------------------------------------------

    def add_network(self, bridge: str, subnet: ipaddress.IPv4Network, *,
                    internal: bool) -> None:
        self.ensure()
        t, chain = self.table, f"iso_{bridge.replace('-', '_')}"
        rules = [f'oifname "{bridge}" accept']
        # an internal network reaches nothing outside its bridge; others are
        # kept apart from this root's other bridges, and from the bridges of
        # other state roots (their own tables do not know ours)
        if internal:
            rules.append("drop")
        else:
            rules += ["oifname @bridges drop", 'oifname "sc-*" drop', 'oifname "stackctl0" drop']
        lines = [
            f"add chain ip {t} {chain}",
            f"flush chain ip {t} {chain}",
            *[f"add rule ip {t} {chain} {r}" for r in rules],
            f'add element ip {t} bridges {{ "{bridge}" }}',
            f"add element ip {t} subnets {{ {subnet} }}",
            f'add element ip {t} isolate {{ "{bridge}" : jump {chain} }}',
        ]
        if not internal:
            lines.append(f"add element ip {t} masq {{ {subnet} }}")
        self._run("\n".join(lines) + "\n", what=f"firewall rules for bridge {bridge}")

    @staticmethod
    def prepare_bridge(bridge: str, *, internal: bool) -> None:
        """Sysctls for an existing bridge: loopback DNAT, and host forwarding."""
        _sysctl(f"net/ipv4/conf/{bridge}/route_localnet", "1")
        if not internal:
            # containers need it for outbound traffic; the isolate map keeps
            # networks apart once the host forwards
            _sysctl("net/ipv4/ip_forward", "1")

    def remove_network(self, bridge: str, subnet: ipaddress.IPv4Network) -> None:
        data = self._list()
        if data is None:
            return
        t, chain = self.table, f"iso_{bridge.replace('-', '_')}"
        have = _elements(data)
        lines = []
        if bridge in have.get("isolate", set()):
            lines.append(f'delete element ip {t} isolate {{ "{bridge}" }}')
        if bridge in have.get("bridges", set()):
            lines.append(f'delete element ip {t} bridges {{ "{bridge}" }}')
        for s in ("subnets", "masq"):
            if str(subnet) in have.get(s, set()):
                lines.append(f"delete element ip {t} {s} {{ {subnet} }}")
        if any(o.get("chain", {}).get("name") == chain for o in data["nftables"]):
            lines.append(f"delete chain ip {t} {chain}")
        if lines:
            self._run("\n".join(lines) + "\n", what=f"remove firewall rules of {bridge}")

    # -- ports -----------------------------------------------------------------

    def published(self) -> list[tuple[PortMapping, ipaddress.IPv4Address]]:
        """Every published port of this root, with the container address it targets."""
        data = self._list()
        return [] if data is None else _published(data)

    def publish(self, ports: list[PortMapping], target: ipaddress.IPv4Address) -> None:
        if not ports:
            return
        self.ensure()
        lines = [f"add element ip {self.table} {_port_element(m, target)}" for m in ports]
        self._run("\n".join(lines) + "\n", what="publish ports")

    def unpublish(self, target: ipaddress.IPv4Address) -> list[PortMapping]:
        """Remove every mapping to ``target``; returns what was removed."""
        gone = [m for m, ip in self.published() if ip == target]
        if gone:
            lines = [f"delete element ip {self.table} {_port_key(m)}" for m in gone]
            self._run("\n".join(lines) + "\n", what="unpublish ports")
        return gone


def _port_key(m: PortMapping) -> str:
    if m.host_ip == ipaddress.IPv4Address("0.0.0.0"):
        return f"ports_any {{ {m.protocol} . {m.host_port} }}"
    return f"ports_ip {{ {m.host_ip} . {m.protocol} . {m.host_port} }}"


def _port_element(m: PortMapping, target: ipaddress.IPv4Address) -> str:
    key = _port_key(m)[:-2]
    return f"{key} : {target} . {m.container_port} }}"


def _elements(data: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for obj in data.get("nftables", []):
        for kind in ("set", "map"):
            s = obj.get(kind)
            if not s:
                continue
            names: set[str] = set()
            for e in s.get("elem", []):
                key = e[0] if isinstance(e, list) else e
                if isinstance(key, dict) and "prefix" in key:
                    key = f"{key['prefix']['addr']}/{key['prefix']['len']}"
                names.add(str(key))
            out[s["name"]] = names
    return out


def _published(data: dict[str, Any]) -> list[tuple[PortMapping, ipaddress.IPv4Address]]:
    out = []
    for obj in data.get("nftables", []):
        m = obj.get("map")
        if not m or m["name"] not in ("ports_any", "ports_ip"):
            continue
        for key, value in m.get("elem", []):
            parts = key["concat"]
            host_ip = "0.0.0.0" if len(parts) == 2 else parts[0]
            proto, host_port = parts[-2], parts[-1]
            tip, cport = value["concat"]
            out.append((PortMapping(int(cport), str(proto), ipaddress.IPv4Address(host_ip),
                                    int(host_port)), ipaddress.IPv4Address(tip)))
    return out


def _nft() -> str | None:
    """The ``nft`` binary. It lives in /usr/sbin, which a PATH may lack (``su``
    without ``-``, cron, an emptied environment): not finding it there made a
    table that exists look absent, and its rules were left behind."""
    import shutil

    path = os.environ.get("PATH") or os.defpath
    return shutil.which("nft", path=f"{path}{os.pathsep}/usr/sbin{os.pathsep}/sbin")


def _sysctl(key: str, value: str) -> None:
    path = Path("/proc/sys") / key
    try:
        if path.read_text().strip() != value:
            path.write_text(value)
    except OSError as exc:
        raise NetError(f"cannot set sysctl {key.replace('/', '.')}={value}: {exc}") from exc


__all__ = ["Firewall", "FirewallUnavailable", "table_name"]
