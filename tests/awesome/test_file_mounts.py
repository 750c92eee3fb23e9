"""Service secrets:/configs: become read-only binds (found through nginx-flask-mysql,
whose backend reads /run/secrets/db-password). Pure: no root."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.engine.containers import MountRequest
from stackctl.errors import SchedulerError
from stackctl.scheduler.model import desired_state
from stackctl.scheduler.translate import container_config

STACK: dict[str, Any] = {
    "services": {"app": {"image": "busybox",
                         "secrets": [{"source": "pw"}, {"source": "pw", "target": "alt"},
                                     {"source": "pw", "target": "/etc/pw"}],
                         "configs": [{"source": "conf"}]}},
    "secrets": {"pw": {"name": "p_pw", "file": "/srv/pw.txt"}},
    "configs": {"conf": {"name": "p_conf", "file": "/srv/app.conf"}},
}


def test_secrets_and_configs_are_read_only_binds() -> None:
    d = desired_state("p", STACK)
    cfg = container_config(d, d.services["app"], name="p-app-1", number=1)
    assert cfg.mounts == (MountRequest("bind", "/run/secrets/pw", "/srv/pw.txt", True),
                          MountRequest("bind", "/run/secrets/alt", "/srv/pw.txt", True),
                          MountRequest("bind", "/etc/pw", "/srv/pw.txt", True),
                          MountRequest("bind", "/conf", "/srv/app.conf", True))


def test_a_changed_secret_file_changes_the_config_hash() -> None:
    other = {**STACK, "secrets": {"pw": {"name": "p_pw", "file": "/srv/other.txt"}}}
    assert desired_state("p", STACK).services["app"].config_hash != \
        desired_state("p", other).services["app"].config_hash


def test_a_secret_that_is_not_a_file_is_refused() -> None:
    stack = {**STACK, "secrets": {"pw": {"name": "p_pw", "environment": "PW"}}}
    d = desired_state("p", stack)
    with pytest.raises(SchedulerError, match=r"services\.app\.secrets\[0\]: secret 'pw' is not"):
        container_config(d, d.services["app"], name="p-app-1", number=1)


def test_expose_reaches_the_container_config() -> None:
    stack = {"services": {"db": {"image": "busybox", "expose": ["3306", "33060", "53/udp"]}}}
    d = desired_state("p", stack)
    cfg = container_config(d, d.services["db"], name="p-db-1", number=1)
    assert cfg.expose == ("3306/tcp", "33060/tcp", "53/udp")
