"""Environment precedence and env files (compose_environment_test.go,
env_file_test.go upstream): shell > run -e > environment: > env_file > image ENV,
.env / --env-file / COMPOSE_ENV_FILES for interpolation, raw env files, comments."""

from __future__ import annotations

import pytest

from tests.compose_e2e.project import Project

pytestmark = pytest.mark.kernel

RUN = ("run", "--rm", "-e", "WHEREAMI", "env-compose-priority")


def _printed(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    return project.compose(*args, env=env).out.strip()


def test_env_priority(project: Project) -> None:  # TestEnvPriority
    project.load("TestEnvPriority")
    project.compose("build")
    shell = {"WHEREAMI": "shell"}
    override, with_default = ".env.override", ".env.override.with.default"
    assert _printed(project, "--env-file", override, *RUN, env=shell) == "shell"
    assert _printed(project, "--env-file", with_default, *RUN, env=shell) == "shell"
    assert _printed(project, "--env-file", with_default, *RUN) == "EnvFileDefaultValue"
    assert _printed(project, *RUN, env={"COMPOSE_ENV_FILES": with_default}) == \
        "EnvFileDefaultValue"
    assert _printed(project, "--env-file", override, "run", "--rm", "-e",
                    "WHEREAMI=shell-run", "env-compose-priority") == "shell-run"
    assert _printed(project, "--env-file", override, *RUN) == "override"
    assert _printed(project, *RUN) == "Env File"
    assert _printed(project, "--env-file", ".env.empty", *RUN) == "Dockerfile"


def test_env_priority_compose_env_file(project: Project) -> None:
    project.load("TestEnvPriorityComposeEnvFile")  # TestEnvPriorityComposeEnvFile
    project.compose("build")
    assert _printed(project, *RUN) == "Env File"


def test_env_priority_compose_environment(project: Project) -> None:
    project.load("TestEnvPriorityComposeEnvironment")  # TestEnvPriorityComposeEnvironment
    project.compose("build")
    override = ".env.override"
    assert _printed(project, "--env-file", override, *RUN, env={"WHEREAMI": "shell"}) == "shell"
    assert _printed(project, "--env-file", override, "run", "--rm", "-e", "WHEREAMI=shell",
                    "env-compose-priority") == "shell"


def test_env_interpolation(project: Project) -> None:  # TestEnvInterpolation
    project.load("TestEnvInterpolation")
    r = project.compose("config", env={"WHEREAMI": "shell"})
    assert "IMAGE: default_env:shell" in r.out


def test_env_interpolation_default_value(project: Project) -> None:
    project.load("TestEnvInterpolationDefaultValue")  # TestEnvInterpolationDefaultValue
    r = project.compose("config")
    assert "IMAGE: default_env:EnvFileDefaultValue" in r.out


def test_unset_env(project: Project) -> None:  # TestUnsetEnv
    project.load("TestUnsetEnv")
    project.compose("build")
    r = project.compose("run", "-e", "EMPTY=hello", "--rm", "empty-variable")
    assert "=hello=" in r.out
    r = project.compose("run", "--rm", "empty-variable")
    assert "==" in r.out


def test_comments_in_env_file(project: Project) -> None:  # TestCommentsInEnvFile
    project.load("TestCommentsInEnvFile")
    project.compose("build")
    r = project.compose("run", "--rm", "-e", "COMMENT", "-e", "NO_COMMENT", "env-file-comments")
    # upstream's own substring checks: compose-go's dotenv cuts an unquoted value at
    # " #" (a space first), so today COMMENT is 1234#5 too, and both pass
    assert "COMMENT=1234" in r.out
    assert "NO_COMMENT=1234#5" in r.out


def test_raw_env_file(project: Project) -> None:  # TestRawEnvFile
    project.load("TestRawEnvFile")
    r = project.compose("run", "test")
    assert """'{"key": "value"}'""" in r.output


def test_run_env_file(project: Project) -> None:  # TestRunEnvFile
    project.load("TestRunEnvFile")
    r = project.compose("run", "--rm", "serviceC", "env")
    assert "FOO=BAR" in r.output
