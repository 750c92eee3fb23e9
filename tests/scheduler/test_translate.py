"""Service config -> ContainerConfig: names, labels, mounts, ports, healthcheck."""

from __future__ import annotations

from stackctl.engine.containers import Healthcheck, MountRequest, RestartPolicy, TmpfsMount
from stackctl.scheduler.model import desired_state
from stackctl.scheduler.translate import container_config

STACK = {
    "services": {
        "db": {
            "image": "busybox",
            "command": "sleep 3600",
            "environment": {"A": "1", "UNSET": None},
            "healthcheck": {"test": "true", "interval": "1s", "timeout": "500ms",
                            "retries": 5, "start_period": "1m"},
            "volumes": [
                {"type": "volume", "source": "data", "target": "/data"},
                {"type": "volume", "target": "/anon"},
                {"type": "bind", "source": "/etc", "target": "/host-etc", "read_only": True},
                {"type": "tmpfs", "target": "/run", "tmpfs": {"size": 1024}},
            ],
            "networks": {"back": {"aliases": ["database"]}},
            "ports": [{"target": 80, "published": "8080", "protocol": "tcp",
                       "host_ip": "127.0.0.1"}, {"target": 53, "protocol": "udp"}],
            "restart": "on-failure:3",
            "labels": {"team": "x"},
            "deploy": {"resources": {"limits": {"memory": "64m", "cpus": "0.5"}}},
        },
        "side": {"image": "busybox", "network_mode": "service:db"},
    },
    "networks": {"back": {}},
    "volumes": {"data": {}},
}


def test_container_config() -> None:
    d = desired_state("shop", STACK, image_ids={"busybox": "sha256:1"})
    cfg = container_config(d, d.services["db"], name="shop-db-1", number=1)
    assert cfg.command == ("sleep", "3600")
    assert cfg.env == ("A=1", "UNSET")  # a bare KEY: unsets the image ENV, as compose
    assert cfg.network == "shop_back" and cfg.network_aliases == ("db", "database")
    assert cfg.publish == ("127.0.0.1:8080:80/tcp", "53/udp")
    assert cfg.mounts == (
        MountRequest("volume", "/data", "shop_data"),
        MountRequest("anonymous", "/anon"),
        MountRequest("bind", "/host-etc", "/etc", True),
    )
    assert cfg.tmpfs == (TmpfsMount("/run", "size=1024"),)
    assert cfg.healthcheck == Healthcheck(("CMD-SHELL", "true"), 1.0, 0.5, 5, 60.0)
    assert cfg.restart == RestartPolicy("on-failure", 3)
    assert cfg.memory == 64 * 1024 * 1024 and cfg.cpus == 0.5
    assert cfg.labels["stackctl.project"] == "shop"
    assert cfg.labels["stackctl.service"] == "db"
    assert cfg.labels["stackctl.number"] == "1"
    assert cfg.labels["stackctl.config-hash"] == d.services["db"].config_hash
    assert cfg.labels["stackctl.oneoff"] == "False"
    assert cfg.labels["team"] == "x"


def test_network_mode_service() -> None:
    d = desired_state("shop", STACK)
    cfg = container_config(d, d.services["side"], name="shop-side-1", number=1,
                           resolve_service={"db": "shop-db-1"})
    assert cfg.network == "container:shop-db-1" and cfg.network_aliases == ()
