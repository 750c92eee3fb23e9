"""Unit tests of the models' short-syntax converters and validators (no files)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from stackctl.spec.models import Service, StackFile, expand_ports, parse_volume
from stackctl.spec.models_base import list_or_dict


def svc(**data: Any) -> Service:
    return Service.model_validate({"image": "busybox", **data})


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        (80, [{"target": 80}]),
        ("8080:80", [{"target": 80, "published": "8080"}]),
        (
            "127.0.0.1:8080:80/udp",
            [{"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "udp"}],
        ),
        ("[::1]:53:53", [{"target": 53, "published": "53", "host_ip": "::1"}]),
        ("::1:53:53", [{"target": 53, "published": "53", "host_ip": "::1"}]),
        ("127.0.0.1::80", [{"target": 80, "host_ip": "127.0.0.1"}]),
        (
            "8000-8001:80-81",
            [{"target": 80, "published": "8000"}, {"target": 81, "published": "8001"}],
        ),
        ("9000-9002:80", [{"target": 80, "published": "9000-9002"}]),
    ],
)
def test_expand_ports(spec: str | int, want: list[dict[str, Any]]) -> None:
    got = expand_ports(spec)
    full = [{"mode": "ingress", "protocol": "tcp", **w} for w in want]
    assert got == full


@given(st.integers(1, 65535), st.integers(1, 65535), st.sampled_from(["tcp", "udp", "sctp"]))
def test_port_round_trip(host: int, container: int, proto: str) -> None:
    (port,) = svc(ports=[f"{host}:{container}/{proto}"]).ports or []
    assert (port.published, port.target, port.protocol) == (str(host), container, proto)


@given(st.integers(1, 60000), st.integers(1, 60000), st.integers(0, 20))
def test_port_ranges_pair_up(host: int, container: int, extra: int) -> None:
    spec = f"{host}-{host + extra}:{container}-{container + extra}"
    ports = svc(ports=[spec]).ports or []
    assert len(ports) == extra + 1
    assert all(int(p.published or 0) - p.target == host - container for p in ports)


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("/data", {"type": "volume", "target": "/data", "volume": {}}),
        (
            "db:/var/lib/db",
            {"type": "volume", "source": "db", "target": "/var/lib/db", "volume": {}},
        ),
        (
            "db:/d:ro,nocopy",
            {
                "type": "volume",
                "source": "db",
                "target": "/d",
                "read_only": True,
                "volume": {"nocopy": True},
            },
        ),
        (
            "./src:/app:rw,Z,rshared",
            {
                "type": "bind",
                "source": "./src",
                "target": "/app",
                "bind": {"create_host_path": True, "selinux": "Z", "propagation": "rshared"},
            },
        ),
        (
            "~/x:/x",
            {"type": "bind", "source": "~/x", "target": "/x", "bind": {"create_host_path": True}},
        ),
    ],
)
def test_parse_volume(spec: str, want: dict[str, Any]) -> None:
    assert parse_volume(spec) == want


@pytest.mark.parametrize("spec", ["a:b:c:d", "::", "./x:/y:nocopy", "db:/y:z"])
def test_parse_volume_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_volume(spec)


def test_list_or_dict_forms_agree() -> None:
    as_list = list_or_dict(["A=1", "B", "C=", "D=x=y"])
    as_map = list_or_dict({"A": 1, "B": None, "C": "", "D": "x=y"})
    assert as_list == as_map == {"A": "1", "B": None, "C": "", "D": "x=y"}


def test_scalars_accept_strings() -> None:
    s = svc(tty="true", scale="3", cpus="0.5", stop_grace_period="1m30s", shm_size="64m")
    assert (s.tty, s.scale, s.cpus, s.stop_grace_period, s.shm_size) == (
        True,
        3,
        0.5,
        90.0,
        64 << 20,
    )
    assert s.replicas == 3


def test_command_string_is_split_like_a_shell() -> None:
    assert svc(command="sh -c 'echo \"a b\"'").command == ["sh", "-c", 'echo "a b"']


def test_healthcheck_forms() -> None:
    assert svc(healthcheck={"test": "curl x"}).healthcheck.test == [  # type: ignore[union-attr]
        "CMD-SHELL",
        "curl x",
    ]
    assert svc(healthcheck={"test": "NONE"}).healthcheck.test == ["NONE"]  # type: ignore[union-attr]


def test_ulimits_forms() -> None:
    u = svc(ulimits={"nofile": {"soft": 1, "hard": 2}, "nproc": 5}).ulimits or {}
    assert (u["nofile"].soft, u["nofile"].hard, u["nproc"].single) == (1, 2, 5)


def test_extra_hosts_forms_agree() -> None:
    a = svc(extra_hosts=["h:1.2.3.4", "v6=::1", "b=[fe80::1]"]).extra_hosts
    b = svc(extra_hosts={"h": "1.2.3.4", "v6": "::1", "b": ["fe80::1"]}).extra_hosts
    assert a == b == {"h": ["1.2.3.4"], "v6": ["::1"], "b": ["fe80::1"]}


def test_depends_on_list_means_started_and_required() -> None:
    deps = svc(depends_on=["db"]).depends_on or {}
    assert (deps["db"].condition, deps["db"].required, deps["db"].restart) == (
        "service_started",
        True,
        False,
    )


def test_extensions_kept_and_unknown_keys_rejected() -> None:
    s = svc(**{"x-team": "a"})
    assert s.extensions == {"x-team": "a"}
    with pytest.raises(ValidationError):
        svc(extensions={"x": 1})


def test_models_are_frozen() -> None:
    s = svc()
    with pytest.raises(ValidationError):
        s.image = "other"  # type: ignore[misc]


def test_legacy_external_name() -> None:
    top = StackFile.model_validate(
        {"services": {}, "volumes": {"v": {"external": {"name": "real"}}}}
    )
    assert (top.volumes["v"].name, top.volumes["v"].external) == ("real", True)
