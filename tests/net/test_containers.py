"""Real containers on bridge networks, driven through the CLI as a user would.

busybox containers (offline image from tests/images.py) on a user network and
on the default ``bridge``: names resolve across containers, a recreated
container keeps its name resolving, published ports answer on 127.0.0.1, and
removing everything leaves no veth, bridge, netns or nftables table.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.net.manager import NetworkManager

pytestmark = pytest.mark.kernel


@pytest.fixture
def stack(roots: tuple[Path, Path]) -> Iterator[tuple[Path, Path]]:
    if subprocess.run(["which", "runc"], capture_output=True).returncode != 0:
        pytest.skip("runc is not installed")
    from tests.images import busybox_rootfs_tar

    root, run_root = roots
    r = sh(roots, "import", str(busybox_rootfs_tar()), "busybox")
    assert r.returncode == 0, r.stderr
    try:
        yield roots
    finally:
        ids = sh(roots, "ps", "-aq").stdout.split()
        if ids:
            sh(roots, "rm", "-f", *ids)
        with NetworkManager(root, run_root) as nm:
            nm.release_all()


def sh(roots: tuple[Path, Path], *args: str, timeout: float = 60
       ) -> subprocess.CompletedProcess[str]:
    root, run_root = roots
    return subprocess.run([sys.executable, "-m", "stackctl", "--root", str(root),
                           "--run-root", str(run_root), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_containers_resolve_each_other_and_survive_recreation(stack: tuple[Path, Path],
                                                              unique: str) -> None:
    net = f"app{unique}"
    assert sh(stack, "network", "create", net).returncode == 0
    web = ["run", "-d", "--name", f"web{unique}", "--network", net, "--network-alias", "www",
           "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]
    r = sh(stack, *web)
    assert r.returncode == 0, r.stderr
    probe = ["run", "--rm", "--network", net, "busybox", "sh", "-c",
             f"timeout 5 wget -qO- http://web{unique}/hostname && "
             "timeout 5 wget -qO- http://www/hostname"]
    r = sh(stack, *probe)
    assert r.returncode == 0, r.stderr
    first = r.stdout.split()
    assert len(first) == 2 and first[0] == first[1]
    # recreate web: a new container (new id, maybe a new address), same names
    assert sh(stack, "rm", "-f", f"web{unique}").returncode == 0
    assert sh(stack, *web).returncode == 0
    r = sh(stack, *probe)
    assert r.returncode == 0, r.stderr
    second = r.stdout.split()
    assert second[0] == second[1] != first[0]  # the hostname is the new short id
    # a container on another network does not see it
    other = f"other{unique}"
    assert sh(stack, "network", "create", other).returncode == 0
    r = sh(stack, "run", "--rm", "--network", other, "busybox", "sh", "-c",
           f"timeout 3 wget -qO- http://web{unique}/hostname")
    assert r.returncode != 0
    assert sh(stack, "network", "rm", net).returncode != 0  # in use


def test_published_port_answers_curl_on_loopback(stack: tuple[Path, Path],
                                                 unique: str) -> None:
    r = sh(stack, "run", "-d", "--name", f"pub{unique}", "-p", "127.0.0.1::80",
           "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    cid = r.stdout.strip()
    root, run_root = stack
    with NetworkManager(root, run_root) as nm:
        (mapping,) = nm.published_ports(cid)
    with urllib.request.urlopen(f"http://127.0.0.1:{mapping.host_port}/hostname",
                                timeout=5) as resp:
        assert resp.read().decode().strip() == cid[:12]
    assert sh(stack, "rm", "-f", cid).returncode == 0
    with NetworkManager(root, run_root) as nm:
        assert nm.published_ports(cid) == []
        assert nm.endpoints(container_id=cid) == []
        assert not nm.netns_path(cid).exists()


def test_embedded_dns_answers_replicas_in_containers(stack: tuple[Path, Path],
                                                     unique: str) -> None:
    net = f"dns{unique}"
    assert sh(stack, "network", "create", net).returncode == 0
    for k in (1, 2):
        r = sh(stack, "run", "-d", "--name", f"api{k}{unique}", "--network", net,
               "--network-alias", "api", "busybox", "sleep", "300")
        assert r.returncode == 0, r.stderr
    # busybox nslookup speaks DNS itself (no hosts file): the monitor's responder answers
    r = sh(stack, "run", "--rm", "--network", net, "busybox", "nslookup", "api")
    assert r.returncode == 0, r.stderr
    addrs = [ln.split()[-1] for ln in r.stdout.splitlines() if ln.startswith("Address:")
             and "#" not in ln and ":53" not in ln]
    assert len(set(addrs)) == 2, r.stdout


def test_network_mode_container_shares_the_namespace(stack: tuple[Path, Path],
                                                     unique: str) -> None:
    r = sh(stack, "run", "-d", "--name", f"main{unique}", "busybox", "httpd", "-f",
           "-p", "8080", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    r = sh(stack, "run", "--rm", "--network", f"container:main{unique}", "busybox", "sh",
           "-c", "timeout 5 wget -qO- http://127.0.0.1:8080/hostname")
    assert r.returncode == 0 and r.stdout.strip() == sh(
        stack, "ps", "-q", "--no-trunc").stdout.strip()[:12], r.stderr
    r = sh(stack, "run", "--rm", "--network", f"container:nope{unique}", "busybox", "true")
    assert r.returncode == 125 and "no such container" in r.stderr


def test_publish_all_and_port_command(stack: tuple[Path, Path], unique: str) -> None:
    r = sh(stack, "run", "-d", "--name", f"pa{unique}", "-P", "--expose", "80",
           "--expose", "5353/udp", "-p", "127.0.0.1::8080", "busybox", "httpd", "-f",
           "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    lines = sh(stack, "port", f"pa{unique}").stdout.splitlines()
    assert sorted(ln.split(" -> ")[0] for ln in lines) == ["5353/udp", "80/tcp", "8080/tcp"]
    host = sh(stack, "port", f"pa{unique}", "80").stdout.strip()
    assert host.startswith("0.0.0.0:")
    with urllib.request.urlopen(f"http://127.0.0.1:{host.split(':')[1]}/hostname",
                                timeout=5) as resp:
        assert resp.read().decode().strip() == r.stdout.strip()[:12]
    r = sh(stack, "port", f"pa{unique}", "9999")
    assert r.returncode != 0 and "no public port" in r.stderr
    # ps shows the host ports chosen, as port does (docker's PORTS column)
    shown = sh(stack, "ps", "--filter", f"name=pa{unique}", "--format", "{{.Ports}}").stdout
    for line in lines:  # "80/tcp -> 0.0.0.0:32768"
        private, _, public = line.partition(" -> ")
        assert f"{public}->{private}" in shown, (shown, lines)


def test_inspect_shows_network_settings(stack: tuple[Path, Path], unique: str) -> None:
    import json

    r = sh(stack, "run", "-d", "--name", f"ins{unique}", "-p", "127.0.0.1::80", "busybox",
           "sleep", "60")
    assert r.returncode == 0, r.stderr
    ns = json.loads(sh(stack, "inspect", f"ins{unique}").stdout)[0]["NetworkSettings"]
    assert ns["IPAddress"] and ns["Networks"]["bridge"]["IPAddress"] == ns["IPAddress"]
    assert ns["Ports"]["80/tcp"][0]["HostIp"] == "127.0.0.1"
    ip = sh(stack, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", f"ins{unique}").stdout
    assert ip.strip() == ns["IPAddress"]


def test_network_connect_and_disconnect(stack: tuple[Path, Path], unique: str) -> None:
    front, back = f"front{unique}", f"back{unique}"
    for n in (front, back):
        assert sh(stack, "network", "create", n).returncode == 0
    r = sh(stack, "run", "-d", "--name", f"app{unique}", "--network", front, "busybox",
           "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    probe = ["run", "--rm", "--network", back, "busybox", "sh", "-c",
             "timeout 3 wget -qO- http://db-alias/hostname"]
    assert sh(stack, *probe).returncode != 0  # not on back yet
    r = sh(stack, "network", "connect", "--alias", "db-alias", back, f"app{unique}")
    assert r.returncode == 0, r.stderr
    r = sh(stack, *probe)
    assert r.returncode == 0 and r.stdout.strip() == sh(
        stack, "ps", "-q", "--filter", f"name=app{unique}").stdout.strip(), r.stderr
    assert sh(stack, "network", "disconnect", back, f"app{unique}").returncode == 0
    assert sh(stack, *probe).returncode != 0
    r = sh(stack, "network", "disconnect", back, f"app{unique}")
    assert r.returncode != 0 and "not connected" in r.stderr


def test_run_rm_leaves_no_lease_and_its_veth_goes(stack: tuple[Path, Path],
                                                  unique: str) -> None:
    """A foreground run --rm returns without waiting for the kernel to drop its
    veth (the address is quarantined meanwhile): nothing of it stays."""
    import time

    net = f"q{unique}"
    assert sh(stack, "network", "create", net).returncode == 0
    for _ in range(3):
        r = sh(stack, "run", "--rm", "--network", net, "busybox", "true")
        assert r.returncode == 0, r.stderr
    with NetworkManager(*stack) as nm:
        bridge = nm.get(net).bridge
        assert nm.endpoints() == []

        def ports() -> str:
            return subprocess.run(["ip", "-o", "link", "show", "master", bridge],
                                  capture_output=True, text=True).stdout

        deadline = time.monotonic() + 5
        while ports() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ports() == ""
    assert sh(stack, "network", "rm", net).returncode == 0
