"""``stackctl config`` and ``stackctl plan`` on all 12 awesome-compose samples.

Fast and without root: the real CLI, in-process, on each sample as published
(with its ``.env``). The expectations are read independently from the raw YAML
(what a Compose user wrote), so each sample checks the loader, interpolation,
path resolution and the planner's first-up graph against the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.awesome.cli import Result, run

SAMPLES = sorted([
    "apache-php", "django", "fastapi", "flask", "flask-redis", "nginx-flask-mongo",
    "nginx-flask-mysql", "nginx-golang", "nginx-wsgi-flask", "postgresql-pgadmin",
    "prometheus-grafana", "wordpress-mysql",
])


@pytest.fixture(params=SAMPLES)
def sample(request: pytest.FixtureRequest, conformance: Path) -> Path:
    return conformance / "awesome-compose" / str(request.param)


def _raw(sample: Path) -> dict[str, Any]:
    data = yaml.safe_load((sample / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _ok(r: Result, *codes: int) -> Result:
    assert r.code in (codes or (0,)), f"exit {r.code}\n{r.out}\n{r.err}"
    return r


def _ports(raw: list[Any]) -> list[tuple[str, int]]:
    """Short ``HOST:CONTAINER`` port syntax as (published, target)."""
    out = []
    for p in raw:
        host, _, container = str(p).rpartition(":")
        out.append((host, int(container)))
    return out


def test_config(sample: Path, roots: tuple[Path, Path],
                capsys: pytest.CaptureFixture[str]) -> None:
    raw = _raw(sample)
    r = _ok(run(capsys, roots, "config", "--format", "json", "-f", str(sample / "compose.yaml")))
    cfg = json.loads(r.out)
    assert cfg["name"] == sample.name
    assert set(cfg["services"]) == set(raw["services"])
    for name, rsvc in raw["services"].items():
        svc = cfg["services"][name]
        where = f"{sample.name}: service {name}"
        assert svc.get("image") == rsvc.get("image"), where
        if "build" in rsvc:
            rb = rsvc["build"] if isinstance(rsvc["build"], dict) else {"context": rsvc["build"]}
            assert svc["build"]["context"] == str((sample / rb["context"]).resolve()), where
            assert svc["build"]["dockerfile"] == "Dockerfile", where
            assert svc["build"].get("target") == rb.get("target"), where
        published = [(p["published"], p["target"]) for p in svc.get("ports", [])]
        assert published == _ports(rsvc.get("ports", [])), where
        for key in ("container_name", "stop_signal", "restart"):
            assert svc.get(key) == rsvc.get(key), f"{where}: {key}"
        env = svc.get("environment") or {}
        assert not any("${" in str(v) for v in env.values()), f"{where}: not interpolated"
        for vol in svc.get("volumes", []):
            if vol["type"] == "bind":  # relative sources resolve against the sample dir
                assert Path(vol["source"]).is_absolute() and vol["source"].startswith(
                    str(sample.resolve())), where
            else:
                assert vol["source"] in cfg["volumes"], where
        nets = rsvc.get("networks") or ["default"]
        assert sorted(svc["networks"]) == sorted(nets), where
    for vol, spec in cfg.get("volumes", {}).items():
        assert spec["name"] == f"{sample.name}_{vol}"
    for net, spec in cfg["networks"].items():
        assert spec["name"] == f"{sample.name}_{net}"
    for name, spec in cfg.get("secrets", {}).items():
        assert Path(spec["file"]).is_file(), f"secret {name}"


def test_config_postgresql_pgadmin_takes_its_dotenv(conformance: Path, roots: tuple[Path, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    sample = conformance / "awesome-compose" / "postgresql-pgadmin"
    dotenv = dict(line.split("=", 1) for line in (sample / ".env").read_text().split()
                  if "=" in line)
    r = _ok(run(capsys, roots, "config", "--format", "json", "-f", str(sample / "compose.yaml")))
    env = json.loads(r.out)["services"]["postgres"]["environment"]
    assert env == {"POSTGRES_USER": dotenv["POSTGRES_USER"],
                   "POSTGRES_PASSWORD": dotenv["POSTGRES_PW"],
                   "POSTGRES_DB": dotenv["POSTGRES_DB"]}
    vars_ = _ok(run(capsys, roots, "config", "--variables", "-f", str(sample / "compose.yaml")))
    for name in ("POSTGRES_USER", "POSTGRES_PW", "POSTGRES_DB", "PGADMIN_MAIL", "PGADMIN_PW"):
        assert name in vars_.out


def test_config_nginx_flask_mysql_unescapes_healthcheck_dollars(
        conformance: Path, roots: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    sample = conformance / "awesome-compose" / "nginx-flask-mysql"
    r = _ok(run(capsys, roots, "config", "--format", "json", "-f", str(sample / "compose.yaml")))
    db = json.loads(r.out)["services"]["db"]
    assert db["healthcheck"]["test"][1] == \
        'mysqladmin ping -h 127.0.0.1 --password="$(cat /run/secrets/db-password)" --silent'
    assert db["command"] == ["--default-authentication-plugin=mysql_native_password"]


def test_plan_first_up(sample: Path, roots: tuple[Path, Path],
                       capsys: pytest.CaptureFixture[str]) -> None:
    """On an empty state root, the plan creates exactly what the file declares, in an
    order that respects networks, volumes, images and depends_on; exit 2 (changes)."""
    raw = _raw(sample)
    r = _ok(run(capsys, roots, "plan", "-o", "json", "-f", str(sample / "compose.yaml")), 2)
    plan = json.loads(r.out)
    assert plan["project"] == sample.name
    ops = {o["id"]: o for o in plan["operations"]}
    assert plan["changes"] == len(ops)

    expected = set()
    for name, svc in raw["services"].items():
        expected |= {f"create container service:{name}:1", f"start container service:{name}:1"}
        if "build" in svc:
            expected.add(f"build image image:{sample.name}-{name}")
        else:
            expected.add(f"pull image image:{svc['image']}")
        for net in svc.get("networks") or ["default"]:
            expected.add(f"create network network:{net}")
    expected |= {f"create volume volume:{v}" for v in raw.get("volumes") or {}}
    assert set(ops) == expected

    def before(a: str, b: str) -> bool:  # a must happen before b (transitively)
        seen, todo = set(), [b]
        while todo:
            for dep in ops[todo.pop()]["after"]:
                if dep == a:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return False

    for name, svc in raw["services"].items():
        create = f"create container service:{name}:1"
        assert before(create, f"start container service:{name}:1")
        for net in svc.get("networks") or ["default"]:
            assert before(f"create network network:{net}", create)
        for dep in svc.get("depends_on") or []:
            # compose orders starts by depends_on; creates may overlap the dependency's start
            assert before(f"start container service:{dep}:1",
                          f"start container service:{name}:1"), f"{name} after {dep}"
        image = f"{sample.name}-{name}" if "build" in svc else svc["image"]
        assert before(f"{'build' if 'build' in svc else 'pull'} image image:{image}", create)


def test_plan_down_on_empty_root_has_nothing_to_do(sample: Path, roots: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    r = _ok(run(capsys, roots, "plan", "--down", "-v", "-o", "json",
                "-f", str(sample / "compose.yaml")))
    assert json.loads(r.out)["operations"] == []
