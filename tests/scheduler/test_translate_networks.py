"""Service -> ContainerConfig for what a container joins: every network in compose's
order with its aliases and ipv4_address, the network_mode forms, ipc: and links:."""

from __future__ import annotations

import pytest

from stackctl.engine.containers import NetworkAttachment
from stackctl.errors import SchedulerError
from stackctl.scheduler.model import desired_state
from stackctl.scheduler.translate import container_config

STACK = {
    "services": {
        "app": {"image": "busybox", "links": ["db:database", "cache"], "ipc": "service:db",
                "networks": {"front": {"priority": 10},
                             "back": {"aliases": ["api"], "ipv4_address": "172.30.9.5"}}},
        "db": {"image": "busybox", "ipc": "shareable", "network_mode": "bridge"},
        "cache": {"image": "busybox", "network_mode": "none"},
    },
    "networks": {"front": {}, "back": {}},
}


def _cfg(service: str, **resolve: str) -> object:
    d = desired_state("p", STACK, image_ids={"busybox": "sha256:1"})
    return container_config(d, d.services[service], name=f"p-{service}-1", number=1,
                            resolve_service=resolve)


def test_every_network_by_priority_with_aliases_and_address() -> None:
    cfg = _cfg("app", db="p-db-1")
    assert cfg.networks == (NetworkAttachment("p_front", ("app",)),
                            NetworkAttachment("p_back", ("app", "api"), "172.30.9.5"))
    assert (cfg.network, cfg.network_aliases) == ("p_front", ("app",))
    assert cfg.attachments() == cfg.networks
    assert cfg.links == ("db:database", "cache:cache")
    assert cfg.ipc == "container:p-db-1"


def test_network_mode_forms() -> None:
    db = _cfg("db")  # Docker's default network, derived from the mode
    assert (db.network, db.networks, db.ipc) == ("bridge", None, "shareable")
    assert db.attachments() == (NetworkAttachment("bridge"),)
    cache = _cfg("cache")
    assert (cache.network, cache.attachments(), cache.ipc) == ("none", (), "private")


def test_ipc_service_needs_a_running_container() -> None:
    with pytest.raises(SchedulerError, match=r"services.app.ipc: service 'db' has no running"):
        _cfg("app")


def _one(service: dict[str, object]) -> object:
    d = desired_state("p", {"services": {"a": {"image": "busybox", **service}}},
                      image_ids={"busybox": "sha256:1"})
    return container_config(d, d.services["a"], name="p-a-1", number=1)


@pytest.mark.parametrize("extra_hosts", [
    ["db:10.0.0.5", "gw:host-gateway", "six=::1"],
    {"db": "10.0.0.5", "gw": "host-gateway", "six": ["::1"]},
])
def test_hosts_dns_shm_and_groups(extra_hosts: object) -> None:
    cfg = _one({"extra_hosts": extra_hosts, "dns": "9.9.9.9", "dns_search": ["x.example"],
                "dns_opt": ["ndots:2"], "shm_size": "128m", "group_add": ["wheel", 1234]})
    assert [h.replace("=", ":", 1) for h in cfg.extra_hosts] == [
        "db:10.0.0.5", "gw:host-gateway", "six:::1"]
    assert (cfg.dns, cfg.dns_search, cfg.dns_options) == (("9.9.9.9",), ("x.example",),
                                                          ("ndots:2",))
    assert (cfg.shm_size, cfg.group_add) == (128 << 20, ("wheel", "1234"))


@pytest.mark.parametrize(("service", "where"), [
    ({"extra_hosts": ["nocolon"]}, "services.a.extra_hosts"),
    ({"extra_hosts": ["db:10.0.0.999"]}, "services.a.extra_hosts"),
    ({"dns": ["resolver.example"]}, "services.a.dns"),
])
def test_bad_hosts_and_dns_name_the_key(service: dict[str, object], where: str) -> None:
    with pytest.raises(SchedulerError, match=where.replace(".", r"\.")):
        _one(service)


def test_memswap_limit_is_the_memory_swap() -> None:
    assert _one({"mem_limit": "64m", "memswap_limit": "128m"}).memory_swap == 128 << 20
    assert _one({"mem_limit": "64m", "memswap_limit": -1}).memory_swap == -1
