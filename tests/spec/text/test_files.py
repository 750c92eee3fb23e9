"""File discovery, project directory, environment, project name and profiles."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from stackctl.errors import SpecError, UsageError
from stackctl.spec.files import active_profiles, locate, normalize_project_name, project_name
from stackctl.spec.options import LoadOptions
from stackctl.spec.raw import load_raw


def _write(path: Path, text: str = "services: {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_file_and_matching_override(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml")
    _write(tmp_path / "compose.override.yaml")
    _write(tmp_path / "docker-compose.override.yml")
    found = locate(LoadOptions(environ={}), cwd=str(tmp_path))
    assert found.files == (str(tmp_path / "compose.yaml"), str(tmp_path / "compose.override.yaml"))
    assert found.working_dir == str(tmp_path)
    assert found.warnings == ()


def test_stack_yaml_is_a_default_name(tmp_path: Path) -> None:
    _write(tmp_path / "stack.yaml")
    found = locate(LoadOptions(environ={}), cwd=str(tmp_path))
    assert found.files == (str(tmp_path / "stack.yaml"),)


def test_two_default_names_warn_and_compose_yaml_wins(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml")
    _write(tmp_path / "docker-compose.yaml")
    found = locate(LoadOptions(environ={}), cwd=str(tmp_path))
    assert found.files == (str(tmp_path / "compose.yaml"),)
    assert len(found.warnings) == 1
    assert "multiple config files" in found.warnings[0]
    assert f"using {tmp_path / 'compose.yaml'}" in found.warnings[0]


def test_discovery_walks_up_to_parents(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yml")
    (tmp_path / "a" / "b").mkdir(parents=True)
    found = locate(LoadOptions(environ={}), cwd=str(tmp_path / "a" / "b"))
    assert found.files == (str(tmp_path / "compose.yml"),)
    assert found.working_dir == str(tmp_path)


def test_no_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no stack file found"):
        locate(LoadOptions(environ={}), cwd=str(tmp_path))


def test_explicit_files_and_project_directory(tmp_path: Path) -> None:
    _write(tmp_path / "sub" / "a.yaml")
    _write(tmp_path / "b.yaml")
    found = locate(LoadOptions(files=("sub/a.yaml", "b.yaml"), environ={}), cwd=str(tmp_path))
    assert found.files == (str(tmp_path / "sub/a.yaml"), str(tmp_path / "b.yaml"))
    assert found.working_dir == str(tmp_path / "sub")
    found = locate(LoadOptions(files=("sub/a.yaml",), project_directory=".", environ={}),
                   cwd=str(tmp_path))
    assert found.working_dir == str(tmp_path)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        locate(LoadOptions(files=("nope.yaml",), environ={}), cwd=str(tmp_path))


def test_env_file_precedence(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml")
    _write(tmp_path / ".env", "A=dotenv\nB=dotenv\nC=dotenv\n")
    found = locate(LoadOptions(environ={"A": "process"}), cwd=str(tmp_path))
    assert found.environment["A"] == "process"
    assert found.environment["B"] == "dotenv"
    assert found.env_files == (str(tmp_path / ".env"),)
    _write(tmp_path / "one.env", "B=one\nC=one\n")
    _write(tmp_path / "two.env", "C=two\n")
    found = locate(LoadOptions(env_files=("one.env", "two.env"), environ={}), cwd=str(tmp_path))
    assert found.environment == {"B": "one", "C": "two"}  # .env is not read with --env-file
    found = locate(LoadOptions(environ={"COMPOSE_ENV_FILES": "one.env, two.env"}),
                   cwd=str(tmp_path))
    assert found.environment == {"B": "one", "C": "two", "COMPOSE_ENV_FILES": "one.env, two.env"}
    assert found.env_files == (str(tmp_path / "one.env"), str(tmp_path / "two.env"))
    with pytest.raises(UsageError, match=r"env file .* not found"):
        locate(LoadOptions(env_files=("three.env",), environ={}), cwd=str(tmp_path))


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("My Project", "myproject"), ("UNNORMALIZED PATH", "unnormalizedpath"),
     ("_x.y-z", "xy-z"), ("a_b-c", "a_b-c"), ("Ünïcode", "ncode")],
)
def test_normalize_project_name(raw: str, normalized: str) -> None:
    assert normalize_project_name(raw) == normalized


def test_project_name_precedence() -> None:
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert project_name("cli", env, "file", "/x/dir") == "cli"
    assert project_name(None, env, "file", "/x/dir") == "fromenv"
    assert project_name(None, {"STACKCTL_PROJECT_NAME": "ours", **env}, "f", "/d") == "ours"
    assert project_name(None, {}, "From File", "/x/dir") == "fromfile"
    assert project_name(None, {}, None, "/x/My Dir") == "mydir"
    with pytest.raises(UsageError, match='invalid project name "Bad Name" \\(-p\\)'):
        project_name("Bad Name", {}, None, "/x")
    with pytest.raises(UsageError, match="from the environment"):
        project_name(None, {"COMPOSE_PROJECT_NAME": "-x"}, None, "/x")
    with pytest.raises(SpecError, match="must be a string"):
        project_name(None, {}, 12, "/x")


@pytest.mark.parametrize("bad", ["-my_project", "_my_project", "www.my.project", "MY_PROJECT"])
def test_explicit_names_must_be_valid(bad: str) -> None:
    # compose-go cli TestProjectName: -p and COMPOSE_PROJECT_NAME are not normalised.
    for explicit, env in ((bad, {}), (None, {"COMPOSE_PROJECT_NAME": bad})):
        with pytest.raises(UsageError, match=f'invalid project name "{re.escape(bad)}"'):
            project_name(explicit, env, None, "/x/dir")


def test_name_edge_cases() -> None:
    assert project_name("42my_project_num", {}, None, "/x") == "42my_project_num"
    assert project_name("", {}, None, "/path/to/proj") == "proj"
    with pytest.raises(UsageError, match="project name must not be empty"):
        project_name(None, {}, None, "/")


def test_env_precedence_inside_dotenv(tmp_path: Path) -> None:
    # compose-go cli TestEnvVariablePrecedence.
    _write(tmp_path / "compose.yaml")
    _write(tmp_path / ".env", "FOO=foo\nBAR=${FOO}")
    assert locate(LoadOptions(environ={}), cwd=str(tmp_path)).environment == {
        "FOO": "foo", "BAR": "foo"}
    assert locate(LoadOptions(environ={"FOO": "zot"}), cwd=str(tmp_path)).environment == {
        "FOO": "zot", "BAR": "zot"}


def test_cli_testdata(conformance: Path, tmp_path: Path) -> None:
    base = conformance / "compose-loader/cli-testdata"
    # Directory basename, normalised.
    raw = load_raw(LoadOptions(files=(str(base / "UNNORMALIZED PATH/compose.yaml"),), environ={}))
    assert raw.name == "unnormalizedpath"
    # .env of the project directory feeds interpolation; the name comes from the dir.
    raw = load_raw(LoadOptions(files=(str(base / "simple/compose-with-variables.yaml"),),
                               environ={}))
    assert raw.name == "simple"
    assert raw.data["services"]["simple"]["ports"] == ["8000:80"]
    assert raw.environment["PUBLIC_PORT"] == "8000"
    # name: is interpolated then normalised.
    raw = load_raw(LoadOptions(files=(str(base / "simple/compose-name.yaml"),),
                               environ={"TEST": "Env"}))
    assert raw.name == "test-env-test"
    # -f a -f b overrides.
    raw = load_raw(LoadOptions(files=(str(base / "simple/compose.yaml"),
                                      str(base / "simple/compose-with-overrides.yaml")),
                               environ={}))
    assert raw.data["services"]["simple"]["image"] == "haproxy"
    # .env names the files and the project; --env-file replaces .env.
    raw = load_raw(LoadOptions(project_directory=str(base / "env-file"), environ={}),
                   cwd=str(tmp_path))
    assert raw.files == (str(base / "env-file/compose-with-env-file.yaml"),)
    assert raw.name == "my_project_from_dot_env"
    raw = load_raw(LoadOptions(files=(str(base / "env-file/compose-with-env-files.yaml"),),
                               env_files=(str(base / "env-file/override.env"),), environ={}))
    assert raw.data["services"]["simple"]["ports"] == ["9000:80"]
    assert raw.name == "env-file"


def test_stdin(tmp_path: Path) -> None:
    import io

    raw = load_raw(LoadOptions(files=("-",), environ={"IMG": "busybox"},
                               stdin=io.StringIO("services:\n  a:\n    image: $IMG\n")),
                   cwd=str(tmp_path))
    assert raw.files == ("-",)
    assert raw.working_dir == str(tmp_path)
    assert raw.data == {"services": {"a": {"image": "busybox"}}}
    assert raw.positions.locate(("services", "a", "image")) is not None
    assert str(raw.positions.locate(("services", "a", "image"))) == "<stdin>:3:5"
    assert raw.name == normalize_project_name(tmp_path.name)


def test_profiles(tmp_path: Path) -> None:
    assert active_profiles(LoadOptions(profiles=("a", "b,c")), {"COMPOSE_PROFILES": "x"}) == (
        "a", "b", "c")
    assert active_profiles(LoadOptions(), {"COMPOSE_PROFILES": " x, y ,,x"}) == ("x", "y")
    assert active_profiles(LoadOptions(), {"STACKCTL_PROFILES": "s", "COMPOSE_PROFILES": "c"}) \
        == ("s",)
    _write(tmp_path / "compose.yaml")
    _write(tmp_path / ".env", "COMPOSE_PROFILES=debug\n")
    assert load_raw(LoadOptions(environ={}), cwd=str(tmp_path)).profiles == ("debug",)


def test_copied_project_is_independent(conformance: Path, tmp_path: Path) -> None:
    shutil.copytree(conformance / "compose-loader/cli-testdata/simple", tmp_path / "proj")
    raw = load_raw(LoadOptions(environ={}), cwd=str(tmp_path / "proj"))
    assert raw.name == "proj"
    assert raw.files == (str(tmp_path / "proj/compose.yaml"),)


def test_compose_file_variable_and_separator(tmp_path: Path) -> None:
    _write(tmp_path / "a.yaml")
    _write(tmp_path / "b.yaml")
    found = locate(LoadOptions(environ={"COMPOSE_FILE": "a.yaml:b.yaml"}), cwd=str(tmp_path))
    assert found.files == (str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"))
    found = locate(LoadOptions(environ={"STACKCTL_FILE": "b.yaml;a.yaml",
                                        "COMPOSE_PATH_SEPARATOR": ";"}), cwd=str(tmp_path))
    assert found.files == (str(tmp_path / "b.yaml"), str(tmp_path / "a.yaml"))


def test_a_directory_is_not_a_stack_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(UsageError, match="is a directory"):
        locate(LoadOptions(files=("d",), environ={}), cwd=str(tmp_path))
