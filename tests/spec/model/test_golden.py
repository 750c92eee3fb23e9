"""Golden stack files: ``tests/spec/cases/{valid,invalid}/<case>/``.

valid/<case>/compose.yaml (+ override, .env, other files) -> expected.yaml,
the exact ``stackctl config`` output, with the case directory written as
``{{CASE_DIR}}``. invalid/<case>/ -> expected-error.txt, the exact message
(and hint) with paths relative to the case directory.

An optional ``options.yaml`` in a case sets: files, profiles, services, env,
project_name, normalize, interpolate, resolve_paths, consistency.
The environment is exactly ``{HOME: /home/user}`` plus ``env``: nothing leaks
in from the machine running the tests.

STACKCTL_UPDATE_GOLDEN=1 rewrites the expectations; read every changed file
before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.errors import SpecError
from stackctl.spec.options import LoadOptions
from stackctl.spec.project import load_project
from stackctl.spec.serialize import dump_yaml, project_dict

CASES = Path(__file__).resolve().parent.parent / "cases"
UPDATE = os.environ.get("STACKCTL_UPDATE_GOLDEN", "") not in ("", "0")


def _cases(kind: str) -> list[str]:
    base = CASES / kind
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def _options(case: Path) -> tuple[LoadOptions, dict[str, Any]]:
    spec: dict[str, Any] = {}
    if (case / "options.yaml").exists():
        spec = yaml.safe_load((case / "options.yaml").read_text()) or {}
    environ = {"HOME": "/home/user", **{k: str(v) for k, v in (spec.get("env") or {}).items()}}
    opts = LoadOptions(
        files=tuple(str(case / f) for f in spec.get("files", ())),
        project_name=spec.get("project_name"),
        project_directory=str(case),
        env_files=tuple(str(case / f) for f in spec.get("env_files", ())),
        profiles=tuple(spec.get("profiles", ())),
        environ=environ,
        interpolate=spec.get("interpolate", True),
        resolve_paths=spec.get("resolve_paths", True),
        normalize=spec.get("normalize", True),
    )
    extra = {
        "services": tuple(spec.get("services", ())),
        "consistency": spec.get("consistency", True),
    }
    return opts, extra


def render_valid(case: Path) -> str:
    opts, extra = _options(case)
    project = load_project(opts, **extra)
    text = dump_yaml(project_dict(project)).replace(str(case), "{{CASE_DIR}}")
    return text.replace(str(case.parent) + "/", "{{CASE_DIR}}/../")


def render_error(case: Path) -> str:
    opts, extra = _options(case)
    with pytest.raises(SpecError) as info:
        load_project(opts, **extra)
    exc = info.value
    text = str(exc) + (f"\nHint: {exc.hint}" if exc.hint else "") + "\n"
    return text.replace(str(case) + "/", "").replace(str(case), ".")


def _check(path: Path, got: str) -> None:
    if UPDATE:
        path.write_text(got)
        return
    assert path.exists(), f"{path} missing: run with STACKCTL_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_text()


@pytest.mark.parametrize("name", _cases("valid"))
def test_valid_case(name: str) -> None:
    case = CASES / "valid" / name
    _check(case / "expected.yaml", render_valid(case))


@pytest.mark.parametrize("name", _cases("invalid"))
def test_invalid_case(name: str) -> None:
    case = CASES / "invalid" / name
    _check(case / "expected-error.txt", render_error(case))


def test_corpus_is_big_enough() -> None:
    assert len(_cases("valid")) >= 40
    assert len(_cases("invalid")) >= 25


@pytest.mark.parametrize("name", _cases("valid"))
def test_config_output_is_a_fixed_point(name: str, tmp_path: Path) -> None:
    """``config`` output is itself a valid stack file that ``config`` prints unchanged."""
    case = CASES / "valid" / name
    first = render_valid(case).replace("{{CASE_DIR}}/../", f"{case.parent}/")
    first = first.replace("{{CASE_DIR}}", str(case))
    copy = tmp_path / "compose.yaml"
    copy.write_text(first)
    opts, extra = _options(case)
    again = load_project(
        LoadOptions(
            files=(str(copy),),
            project_directory=str(case),
            environ=opts.environ,
            profiles=opts.profiles,
            interpolate=False,  # values are final: a literal $ must stay one
            normalize=opts.normalize,
            resolve_paths=opts.resolve_paths,
        ),
        **extra,
    )
    assert dump_yaml(project_dict(again)) == first
