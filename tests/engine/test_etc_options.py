"""--add-host, --dns, --dns-search, --dns-option, --shm-size and --group-add (and
compose's extra_hosts, dns, dns_search, dns_opt, shm_size, group_add) reach the
container, on a bridge network and on none/host, as Docker's do."""

from __future__ import annotations

import pytest

from stackctl.engine.api import Engine
from stackctl.engine.containers import ContainerConfig
from stackctl.errors import StackctlError
from tests.engine.conftest import Cli

pytestmark = pytest.mark.kernel

SHOW = ("sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; "
        "df -k /dev/shm | tail -1; id -G")


def logs_text(engine: Engine, ref: str) -> str:
    return "".join(e.log for e in engine.logs(ref))


def _run(engine: Engine, **kw: object) -> list[str]:
    rec = engine.create(ContainerConfig(image="busybox", command=SHOW, **kw))  # type: ignore[arg-type]
    engine.start(rec.id)
    assert engine.wait(rec.id) == 0
    out = logs_text(engine, rec.id).split("---\n")
    engine.remove(rec.id)
    return out


def test_on_a_bridge_network(engine: Engine) -> None:
    hosts, resolv, rest = _run(
        engine, extra_hosts=("db.local:10.1.2.3", "gw:host-gateway", "six:::1"),
        dns=("10.9.9.9",), dns_search=("corp.example",), dns_options=("timeout:2",),
        shm_size=16 << 20, group_add=("wheel", "1234"))
    lines = hosts.splitlines()
    assert "10.1.2.3\tdb.local" in lines and "::1\tsix" in lines
    gw = next(ln.split("\t")[0] for ln in lines if ln.endswith("\tgw"))
    assert gw.endswith(".1")  # the bridge's gateway: the host seen from the container
    # the embedded DNS, which relays to --dns; its search and options
    assert resolv.splitlines() == ["nameserver 127.0.0.11", "search corp.example",
                                   "options ndots:0 timeout:2"]
    shm, groups = rest.splitlines()
    assert shm.split()[1] == str(16 << 10)
    assert set(groups.split()) >= {"0", "10", "1234"}


def test_on_none_and_host(engine: Engine) -> None:
    hosts, resolv, rest = _run(engine, network="none", extra_hosts=("db.local:10.1.2.3",),
                               dns=("10.9.9.9", "10.9.9.10"), dns_search=("a.example", "b"))
    assert "10.1.2.3\tdb.local" in hosts.splitlines()
    assert [ln for ln in resolv.splitlines() if ln.startswith("nameserver")] == [
        "nameserver 10.9.9.9", "nameserver 10.9.9.10"]
    assert [ln for ln in resolv.splitlines() if ln.startswith("search")] == [
        "search a.example b"]
    assert rest.splitlines()[0].split()[1] == str(64 << 10)  # Docker's default 64 MiB
    hosts, _, _ = _run(engine, network="host", extra_hosts=("me:host-gateway",))
    assert "127.0.0.1\tme" in hosts.splitlines()


@pytest.mark.parametrize("kw", [
    {"extra_hosts": ("nocolon",)}, {"extra_hosts": ("x:not-an-ip",)},
    {"network": "none", "extra_hosts": ("gw:host-gateway",)},
])
def test_bad_values_are_refused_and_leave_nothing(engine: Engine, kw: dict[str, object]
                                                  ) -> None:
    rec = engine.create(ContainerConfig(image="busybox", command=("true",), **kw))  # type: ignore[arg-type]
    with pytest.raises(StackctlError, match="add-host"):
        engine.start(rec.id)
    engine.remove(rec.id)
    assert engine.list(all_=True) == []


def test_the_run_flags(cli: Cli) -> None:
    for via in ([], ["--label", "-x=y"]):  # the fast path, and typer (a flag-like value)
        res = cli("run", "--rm", *via, "--add-host", "db.local:10.1.2.3", "--add-host=gw=::2",
                  "--dns", "10.9.9.9", "--dns-search", "x.example", "--dns-option", "ndots:3",
                  "--shm-size", "16m", "--group-add", "1234", "busybox", *SHOW)
        assert res.returncode == 0, res.stderr
        hosts, resolv, rest = res.stdout.split("---\n")
        assert {"10.1.2.3\tdb.local", "::2\tgw"} <= set(hosts.splitlines())
        assert resolv.splitlines() == ["nameserver 127.0.0.11", "search x.example",
                                       "options ndots:0 ndots:3"]
        shm, groups = rest.splitlines()
        assert shm.split()[1] == str(16 << 10) and "1234" in groups.split()
    made = cli("create", "--add-host", "a:10.0.0.1", "--dns", "9.9.9.9", "--shm-size", "1g",
               "--group-add", "wheel", "busybox", check=True).stdout.strip()
    host = cli("inspect", "--format", "{{json .HostConfig}}", made, check=True).stdout
    import json

    hc = json.loads(host)
    assert (hc["ExtraHosts"], hc["Dns"], hc["ShmSize"], hc["GroupAdd"]) == (
        ["a:10.0.0.1"], ["9.9.9.9"], 1 << 30, ["wheel"])
    cli("rm", made, check=True)


@pytest.mark.parametrize(("flag", "value"), [
    ("--add-host", "nocolon"), ("--add-host", "x:1.2.3"), ("--dns", "resolver.example"),
    ("--shm-size", "0"), ("--shm-size", "lots"),
])
def test_bad_run_flags_exit_125_naming_the_flag(cli: Cli, engine: Engine, flag: str,
                                                value: str) -> None:
    res = cli("run", "--rm", flag, value, "busybox", "true")
    assert res.returncode == 125 and flag in res.stderr, res.stderr
    assert engine.list(all_=True) == []
