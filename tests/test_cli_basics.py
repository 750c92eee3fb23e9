"""The CLI skeleton: help, version, error mapping, and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pydantic", "networkx", "pyroute2", "yaml", "anyio", "rich")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackctl", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_usage() -> None:
    res = run_cli("--help")
    assert res.returncode == 0
    assert "Usage: stackctl" in res.stdout


def test_version() -> None:
    res = run_cli("--version")
    assert res.returncode == 0
    assert res.stdout.startswith("stackctl version ")


@pytest.mark.parametrize("argv", [[], ["volume"], ["network"], ["compose"], ["image"]])
def test_a_bare_group_prints_its_help_and_exits_0_as_docker(argv: list[str]) -> None:
    res = run_cli(*argv)
    assert res.returncode == 0, res.stderr
    assert f"Usage: stackctl {' '.join(argv)}".rstrip() in res.stdout + res.stderr


def test_unknown_command_is_usage_error() -> None:
    res = run_cli("no-such-command")
    assert res.returncode == 2
    assert "No such command" in res.stderr


@pytest.mark.parametrize("argv", [["--help"], ["version"], ["--version"]])
def test_cheap_commands_import_nothing_heavy(argv: list[str]) -> None:
    code = (
        "import sys, json\n"
        f"sys.argv = ['stackctl', *{argv!r}]\n"
        "from stackctl.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    loaded = json.loads(res.stderr.strip().splitlines()[-1])
    assert loaded == [], f"--help imported heavy modules: {loaded}"


def test_error_is_one_message_and_hint() -> None:
    import contextlib
    import io

    from stackctl.cli.report import report_error
    from stackctl.errors import NotFound

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        code = report_error(NotFound("no such container: web", hint="see stackctl ps -a"),
                            debug=False)
    assert code == 125
    assert buf.getvalue() == "Error: no such container: web\nHint: see stackctl ps -a\n"


def _registered_names(module: str) -> set[str]:
    import importlib

    import typer

    from stackctl.cli.app import new_app

    app: typer.Typer = new_app()
    # registry_cmds extends the image group: give it one to extend
    if module.endswith("registry_cmds"):
        importlib.import_module("stackctl.cli.image_cmds").register(app)
        before = {g.name for g in app.registered_groups} | {
            c.name or c.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
            for c in app.registered_commands
        }
    else:
        before = set()
    importlib.import_module(module).register(app)
    names = {g.name for g in app.registered_groups} | {
        c.name or c.callback.__name__.replace("_", "-")  # type: ignore[union-attr]
        for c in app.registered_commands
    }
    return {n for n in names - before if n}


def test_command_index_names_every_command_and_its_owner() -> None:
    from stackctl.cli.app import COMMAND_INDEX, COMMAND_MODULES

    for module in COMMAND_MODULES:
        for name in _registered_names(module):
            assert name in COMMAND_INDEX, f"{name} ({module}) missing from COMMAND_INDEX"
            assert module in COMMAND_INDEX[name], f"{name}: {module} not among its owners"
    for name, owners in COMMAND_INDEX.items():
        assert any(name in _registered_names(m) for m in owners), f"{name}: no owner defines it"


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["ps", "-a"], "ps"),
        (["--root", "/x", "--run-root", "/y", "up", "-d"], "up"),
        (["--debug", "image", "ls"], "image"),
        (["--help"], None),
        ([], None),
    ],
)
def test_command_name_skips_global_options(argv: list[str], name: str | None) -> None:
    from stackctl.cli.app import command_name

    assert command_name(argv) == name


def test_image_group_has_registry_subcommands() -> None:
    res = run_cli("image", "--help")
    assert res.returncode == 0
    assert "pull" in res.stdout and "push" in res.stdout and "inspect" in res.stdout


def test_prerendered_help_is_what_typer_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    """stackctl/cli/help.txt must be current: renew it with
    `python -m stackctl.cli.app --write-help` after changing commands."""
    from pathlib import Path

    from stackctl.cli import app as app_mod

    monkeypatch.setenv("COLUMNS", "80")
    shipped = (Path(app_mod.__file__).with_name(app_mod.HELP_FILE)).read_text()
    assert app_mod.render_help() == shipped


def test_help_serves_the_prerendered_text() -> None:
    from pathlib import Path

    from stackctl.cli import app as app_mod

    shipped = (Path(app_mod.__file__).with_name(app_mod.HELP_FILE)).read_text()
    assert run_cli("--help").stdout == shipped
    assert run_cli("-h").stdout == shipped
