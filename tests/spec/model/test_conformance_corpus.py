"""The other conformance corpora the models must meet (Apache-2.0 upstreams,
see /work/shared/conformance/README.md): compose-spec schema files,
compose-go's depends_on cycle cases, and the awesome-compose samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stackctl.errors import SpecValidationError
from stackctl.spec.models_base import EXTENSIONS_KEY
from stackctl.spec.models_service import Service
from stackctl.spec.models_top import Config, Network, Secret, StackFile, Volume
from stackctl.spec.options import LoadOptions
from stackctl.spec.project import load_project

AWESOME = [
    "apache-php",
    "django",
    "fastapi",
    "flask",
    "flask-redis",
    "nginx-flask-mongo",
    "nginx-flask-mysql",
    "nginx-golang",
    "nginx-wsgi-flask",
    "postgresql-pgadmin",
    "prometheus-grafana",
    "wordpress-mysql",
]


def _opts(path: Path, **kw: object) -> LoadOptions:
    return LoadOptions(files=(str(path),), environ={"HOME": "/home/user"}, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", AWESOME)
def test_awesome_compose_config(conformance: Path, sample: str) -> None:
    path = conformance / "awesome-compose" / sample / "compose.yaml"
    project = load_project(_opts(path))
    assert project.services
    assert project.name == sample
    for svc in project.services.values():
        assert svc.image or svc.build
        if svc.network_mode is None:
            assert svc.networks
            assert all(n in project.networks for n in svc.networks)


def test_awesome_postgresql_pgadmin_reads_dotenv(conformance: Path) -> None:
    path = conformance / "awesome-compose" / "postgresql-pgadmin" / "compose.yaml"
    project = load_project(_opts(path))
    dotenv = (path.parent / ".env").read_text()
    env = project.services["postgres"].environment or {}
    assert env["POSTGRES_USER"] and f"POSTGRES_USER={env['POSTGRES_USER']}" in dotenv


def test_using_variables_validates_without_interpolation(conformance: Path) -> None:
    path = conformance / "schema" / "using-variables.yaml"
    project = load_project(_opts(path, interpolate=False), consistency=False)
    foo = project.services["foo"]
    assert foo.image == "${VARIABLE}"
    assert foo.deploy is not None and foo.deploy.replicas == "${VARIABLE}"  # type: ignore[comparison-overlap]


def test_using_variables_needs_values_once_interpolated(conformance: Path) -> None:
    path = conformance / "schema" / "using-variables.yaml"
    opts = LoadOptions(files=(str(path),), environ={"VARIABLE": "x"})
    with pytest.raises(SpecValidationError) as info:
        load_project(opts, consistency=False)
    assert "services.foo.deploy.replicas: expected an integer, got 'x'" in str(info.value)


@pytest.mark.parametrize(
    ("definition", "model"),
    [
        ("service", Service),
        ("network", Network),
        ("volume", Volume),
        ("secret", Secret),
        ("config", Config),
    ],
)
@pytest.mark.parametrize("schema", ["compose-spec.json", "compose-spec.compose-go-variant.json"])
def test_models_know_every_schema_key(
    conformance: Path, schema: str, definition: str, model: type
) -> None:
    data = json.loads((conformance / "schema" / schema).read_text())
    defs = data.get("definitions") or data["$defs"]
    keys = set(defs[definition]["properties"])
    ours = set(model.model_fields) - {"extensions"}
    assert keys <= ours, f"missing in {model.__name__}: {sorted(keys - ours)}"


def test_top_level_keys_match_schema(conformance: Path) -> None:
    data = json.loads((conformance / "schema" / "compose-spec.json").read_text())
    ours = set(StackFile.model_fields) - {"extensions"}
    assert set(data["properties"]) <= ours
    assert EXTENSIONS_KEY not in ours


def _corpus(conformance: Path, name: str) -> Path:
    return conformance / "compose-loader" / "compose-go-testdata" / name


def test_depends_on_cycle(conformance: Path) -> None:
    with pytest.raises(SpecValidationError) as info:
        load_project(_opts(_corpus(conformance, "compose-depends-on-cycle.yaml")))
    assert [p.bare_message for p in info.value.problems] == [
        "dependency cycle detected: service1 -> service2 -> service3 -> service1"
    ]


def test_depends_on_self(conformance: Path) -> None:
    with pytest.raises(SpecValidationError) as info:
        load_project(_opts(_corpus(conformance, "compose-depends-on-self.yaml")))
    assert [p.bare_message for p in info.value.problems] == [
        "dependency cycle detected: service1 -> service1"
    ]


def test_depends_on_profile_no_cycle(conformance: Path) -> None:
    path = _corpus(conformance, "compose-depends-on-profile-no-cycle.yaml")
    if "profiles" not in yaml.safe_load(path.read_text())["services"].get("service3", {}):
        pytest.skip(
            "the corpus copy of compose-depends-on-profile-no-cycle.yaml is identical to "
            "compose-depends-on-cycle.yaml (no profiles: key); covered by our golden case "
            "valid/profiles-inactive-cycle"
        )
    project = load_project(_opts(path))
    assert "service3" not in project.services


def _e2e_files(conformance: Path) -> list[Path]:
    base = conformance / "compose-e2e"
    return sorted(
        p for p in base.rglob("*.y*ml") if "compose" in p.name or p.parent.name == "logs-test"
    )


# variables the upstream e2e tests set before running these files
_E2E_ENV = {"FILE": "/etc/hostname", "ID": "busybox", "FIXED_NAME": "fixed"}


def test_every_e2e_compose_file_loads(conformance: Path) -> None:
    """docker/compose's e2e stack files (compose-e2e/) are valid as written."""
    failures = []
    files = _e2e_files(conformance)
    assert len(files) > 60
    for path in files:
        opts = LoadOptions(files=(str(path),), environ={"HOME": "/home/user", **_E2E_ENV})
        try:
            # fixtures/env_file: serviceB's env file is missing on purpose; the
            # upstream test only ever runs serviceC
            wanted = ("serviceC",) if path.parent.name == "env_file" else ()
            load_project(opts, services=wanted)
        except Exception as exc:  # collect them all: one report
            failures.append(f"{path.relative_to(conformance)}: {exc}")
    assert failures == []


def test_compose_go_extends_expectation(conformance: Path) -> None:
    """compose-go's TestLoadWithExtends, as the corpus README transcribes it."""
    base = _corpus(conformance, "")
    project = load_project(_opts(base / "compose-test-extends.yaml"))
    assert list(project.services) == ["importer"]
    svc = project.services["importer"]
    assert (svc.image, svc.container_name) == ("nginx", "imported")
    assert svc.environment == {"SOURCE": "extends"}
    assert [(e.path, e.required) for e in svc.env_file or ()] == [
        (str(base / "subdir" / "extra.env"), True)
    ]
    (vol,) = svc.volumes or ()
    assert (vol.type, vol.source, vol.target) == ("bind", "/opt/data", "/var/lib/mysql")
    assert vol.bind is not None and vol.bind.create_host_path is True
    assert svc.networks == {"default": None}


def test_compose_go_include_project_directory(conformance: Path) -> None:
    """Relative paths of an included file resolve against its project_directory."""
    base = _corpus(conformance, "")
    project = load_project(_opts(base / "include" / "project-directory.yaml"))
    svc = project.services["service"]
    assert svc.build is not None and svc.build.context == str(base / "subdir")
    assert (svc.volumes or [])[0].source == str(
        base / "subdir" / "compose-test-extends-imported.yaml"
    )
    assert [e.path for e in svc.env_file or ()] == [str(base / "subdir" / "extra.env")]


@pytest.mark.parametrize(
    ("scenario", "services", "want"),
    [
        ("TestUpProfile", ["foo"], ["db", "foo"]),  # target + dependency, not its siblings
        ("TestComposeRunNotRequiredDeps", ["foo"], ["foo"]),  # optional dep stays out
        ("TestDotEnvProfileUsage", [], ["profiled-service", "regular-service"]),  # from .env
        ("TestActiveProfileViaTargetedService", ["profiled-service"], ["profiled-service"]),
    ],
)
def test_e2e_service_selection(
    conformance: Path, scenario: str, services: list[str], want: list[str]
) -> None:
    """Which services docker/compose's profile scenarios act on."""
    path = conformance / "compose-e2e" / "testdata" / scenario / "compose.yaml"
    project = load_project(_opts(path), services=services)
    assert sorted(project.services) == want
