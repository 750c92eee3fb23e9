"""The desired model: config hash rules, names, replicas, networks and volumes."""

from __future__ import annotations

import pytest

from stackctl.errors import SchedulerError, UsageError
from stackctl.scheduler.model import config_hash, container_name, desired_state, parse_scale

BASE = {"image": "busybox", "command": ["sleep", "1"], "environment": {"A": "1"}}


def test_hash_is_stable_and_key_order_free() -> None:
    a = config_hash(BASE, "sha256:1")
    b = config_hash(dict(reversed(list(BASE.items()))), "sha256:1")
    assert a == b and len(a) == 64


def test_hash_follows_config_and_image() -> None:
    h = config_hash(BASE, "sha256:1")
    assert config_hash({**BASE, "environment": {"A": "2"}}, "sha256:1") != h
    assert config_hash(BASE, "sha256:2") != h


def test_hash_ignores_scale_order_and_build_keys() -> None:
    h = config_hash(BASE, "i")
    for extra in ({"deploy": {"replicas": 3}}, {"scale": 2}, {"depends_on": {"db": {}}},
                  {"build": {"context": "."}}, {"pull_policy": "always"}, {"profiles": ["x"]}):
        assert config_hash({**BASE, **extra}, "i") == (
            config_hash({**BASE, "deploy": {}}, "i") if "deploy" in extra else h)


def test_replicas_scale_and_names() -> None:
    d = desired_state("shop", {"services": {
        "web": {"image": "busybox", "deploy": {"replicas": 2}},
        "job": {"build": {"context": "/src"}},
    }}, scale={"job": 0})
    assert d.services["web"].replicas == 2 and d.services["job"].replicas == 0
    assert d.services["job"].image == "shop-job"
    assert d.services["job"].pull_policy == "build"
    assert container_name("shop", "web", 2) == "shop-web-2"
    assert d.networks["default"].name == "shop_default"


def test_parse_scale() -> None:
    assert parse_scale(["web=3", "db=0"]) == {"web": 3, "db": 0}
    with pytest.raises(UsageError, match="SERVICE=NUMBER"):
        parse_scale(["web"])


def test_scale_unknown_service() -> None:
    with pytest.raises(UsageError, match="no such service: nope"):
        desired_state("p", {"services": {"web": {"image": "x"}}}, scale={"nope": 1})


def test_container_name_cannot_scale() -> None:
    with pytest.raises(SchedulerError, match="cannot scale to 2"):
        desired_state("p", {"services": {"web": {"image": "x", "container_name": "w"}}},
                      scale={"web": 2})


def test_named_volumes_and_networks() -> None:
    d = desired_state("p", {
        "services": {"db": {"image": "x", "networks": {"back": None},
                            "volumes": [{"type": "volume", "source": "data", "target": "/d"},
                                        {"type": "bind", "source": "/tmp", "target": "/t"}]}},
        "networks": {"back": {"driver": "bridge"}, "outside": {"external": True, "name": "o"}},
        "volumes": {"data": {}},
    })
    assert d.services["db"].networks == ("back",)
    assert d.services["db"].volumes == ("data",)
    assert d.networks["outside"].external and d.networks["outside"].name == "o"
    assert d.volumes["data"].name == "p_data"
    with pytest.raises(SchedulerError, match="undefined volume 'nope'"):
        desired_state("p", {"services": {"db": {"image": "x", "volumes": [
            {"type": "volume", "source": "nope", "target": "/d"}]}}})


def test_container_name_taken_twice_is_refused_up_front() -> None:
    from stackctl.scheduler.observe import snapshot
    from stackctl.scheduler.plan import UpOptions, plan_up

    d = desired_state("p", {"services": {
        "a": {"image": "x", "container_name": "fixed"},
        "b": {"image": "x", "container_name": "fixed"}}})
    with pytest.raises(SchedulerError, match='container name "fixed" is already in use'):
        plan_up(d, snapshot("p", []), UpOptions())
    assert not plan_up(d, snapshot("p", []), UpOptions(services=("a",))).empty


def test_hash_follows_what_volume_keys_resolve_to() -> None:
    def stack(name: str) -> dict[str, object]:
        return {"services": {"app": {"image": "x", "volumes": [
            {"type": "volume", "source": "v", "target": "/v"}]}},
            "volumes": {"v": {"external": True, "name": name}}}

    one = desired_state("p", stack("vol1")).services["app"].config_hash
    two = desired_state("p", stack("vol2")).services["app"].config_hash
    assert one != two
