"""load_raw end to end: the whole text pipeline on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.errors import SpecError
from stackctl.spec.options import LoadOptions, format_key_path
from stackctl.spec.raw import load_raw


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_overrides_interpolation_and_positions(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml",
           "name: demo\nservices:\n  web:\n    image: nginx:${TAG:-latest}\n"
           "    ports: ['${PORT}:80']\n    environment:\n      - MODE=base\n")
    _write(tmp_path / "compose.override.yaml",
           "services:\n  web:\n    environment:\n      MODE: dev\n      DEBUG: '1'\n")
    _write(tmp_path / ".env", "PORT=8080\n")
    raw = load_raw(LoadOptions(environ={"TAG": "1.25"}), cwd=str(tmp_path))
    assert raw.name == "demo"
    assert raw.files == (str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml"))
    assert raw.data["services"]["web"] == {
        "image": "nginx:1.25",
        "ports": ["8080:80"],
        "environment": {"MODE": "dev", "DEBUG": "1"},
    }
    assert raw.environment["PORT"] == "8080" and raw.environment["TAG"] == "1.25"
    assert raw.environment["COMPOSE_PROJECT_NAME"] == "demo"
    assert raw.warnings == ()
    where = {format_key_path(k): str(v).replace(str(tmp_path) + "/", "")
             for k, v in raw.positions.table.items()}
    assert where["services.web.image"] == "compose.yaml:4:5"
    assert where["services.web.ports[0]"] == "compose.yaml:5:13"
    assert where["services.web.environment.MODE"] == "compose.override.yaml:4:7"


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        (None, {}, "fromdir"),  # the directory's name when nothing else names it
        ("cli", {"COMPOSE_PROJECT_NAME": "inherited"}, "cli"),  # -p wins, over the env too
        (None, {"COMPOSE_PROJECT_NAME": "inherited"}, "inherited"),
        (None, {"STACKCTL_PROJECT_NAME": "ours", "COMPOSE_PROJECT_NAME": "theirs"}, "ours"),
    ],
)
def test_project_name_is_compose_project_name_for_interpolation(
        tmp_path: Path, explicit: str | None, environ: dict[str, str], expected: str) -> None:
    # compose-go's projectName sets COMPOSE_PROJECT_NAME to the name in use, unconditionally
    work = tmp_path / "fromdir"
    _write(work / "compose.yaml",
           "services:\n  web:\n    image: ${COMPOSE_PROJECT_NAME}-web:1\n")
    raw = load_raw(LoadOptions(project_name=explicit, environ=environ), cwd=str(work))
    assert raw.name == expected
    assert raw.data["services"]["web"]["image"] == f"{expected}-web:1"
    assert raw.environment["COMPOSE_PROJECT_NAME"] == expected


def test_missing_variables_warn_once_each(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "services:\n  a:\n    image: $X\n    user: ${X}:${Y}\n")
    _write(tmp_path / "b.yaml", "services:\n  a:\n    working_dir: /$Y\n")
    raw = load_raw(LoadOptions(files=(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")),
                               environ={}))
    assert raw.warnings == (
        'The "X" variable is not set. Defaulting to a blank string.',
        'The "Y" variable is not set. Defaulting to a blank string.',
    )
    assert raw.data["services"]["a"] == {"image": "", "user": ":", "working_dir": "/"}


def test_interpolation_can_be_turned_off(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    image: ${X:?must be set}\n")
    raw = load_raw(LoadOptions(environ={}, interpolate=False), cwd=str(tmp_path))
    assert raw.data["services"]["a"]["image"] == "${X:?must be set}"


def test_required_variable_error_names_the_override_file(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml", "services:\n  a:\n    image: x\n")
    _write(tmp_path / "compose.override.yaml", "services:\n  a:\n    user: ${U:?who}\n")
    with pytest.raises(SpecError) as info:
        load_raw(LoadOptions(environ={}), cwd=str(tmp_path))
    assert str(info.value) == (f"{tmp_path}/compose.override.yaml:3:5: services.a.user: "
                               "required variable U is missing a value: who")


def test_yaml_error_in_second_file(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "services: {}\n")
    _write(tmp_path / "b.yaml", "services:\n  a:\n    image: x\n    image: y\n")
    with pytest.raises(SpecError, match=r"b\.yaml:4:5: services\.a\.image: duplicate key"):
        load_raw(LoadOptions(files=(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")),
                             environ={}))


def test_reset_across_files(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml", "services:\n  a:\n    image: x\n    ports: ['1:1']\n")
    _write(tmp_path / "b.yaml", "services:\n  a:\n    ports: !reset []\n")
    raw = load_raw(LoadOptions(files=(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")),
                               environ={}))
    assert raw.data == {"services": {"a": {"image": "x"}}}
    assert ("services", "a", "ports") not in raw.positions.table


def test_result_shares_no_containers(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml",
           "x-env: &env {A: '1'}\nservices:\n  base:\n    environment: *env\n"
           "  one:\n    extends: base\n  two:\n    extends: base\n")
    raw = load_raw(LoadOptions(environ={}), cwd=str(tmp_path))
    services = raw.data["services"]
    services["one"]["environment"]["A"] = "changed"
    assert services["two"]["environment"] == {"A": "1"}
    assert services["base"]["environment"] == {"A": "1"}


def test_awesome_compose_files_load(conformance: Path) -> None:
    files = sorted((conformance / "awesome-compose").glob("*/compose.yaml"))
    assert len(files) >= 12
    for f in files:
        raw = load_raw(LoadOptions(files=(str(f),), environ={}))
        assert isinstance(raw.data.get("services"), dict), f
        assert raw.name == f.parent.name.replace(".", "")


def test_full_example_loads(conformance: Path) -> None:
    base = conformance / "compose-loader/full-example"
    raw = load_raw(LoadOptions(files=(str(base / "full-example.yml"),),
                               environ={"HOME": "/home/u", "BAR": "this is a secret",
                                        "QUX": "qux_from_environment"}))
    assert raw.warnings == ()
    assert raw.name == "full_example_project_name"
    foo = raw.data["services"]["foo"]
    assert foo["environment"] == {"BAZ": "baz_from_service_def", "QUX": None}
    assert "full_example_project_name:1.0.0" in foo["build"]["tags"]
    assert raw.positions.locate(("services", "foo", "ports", 3)) is not None


def test_several_documents_in_one_file_merge_in_order(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml",
           "services:\n  a:\n    image: x\n    ports: ['1:1']\n---\n"
           "services:\n  a:\n    image: y\n  b:\n    image: z\n")
    raw = load_raw(LoadOptions(environ={}), cwd=str(tmp_path))
    assert raw.data == {"services": {"a": {"image": "y", "ports": ["1:1"]}, "b": {"image": "z"}}}
    assert str(raw.positions.locate(("services", "a", "image"))).endswith("compose.yaml:8:5")
