"""``stackctl config`` end to end through the CLI entry point (in-process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stackctl.cli.app import main

STACK = """
name: shop
services:
  web:
    image: nginx
    ports: ["8080:80"]
    depends_on: [api]
  api:
    build: ./api
    volumes: [data:/data]
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data:
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(STACK)
    return path


def test_prints_normalised_yaml(capsys: pytest.CaptureFixture[str], stack: Path) -> None:
    code, out, err = run(capsys, "config", "-f", str(stack))
    assert code == 0, err
    data = yaml.safe_load(out)
    assert data["name"] == "shop"
    assert list(data["services"]) == ["api", "web"]
    assert data["services"]["api"]["build"]["context"] == str(stack.parent / "api")
    assert data["networks"]["default"] == {"name": "shop_default"}
    assert data["volumes"]["data"] == {"name": "shop_data"}


def test_json_format(capsys: pytest.CaptureFixture[str], stack: Path) -> None:
    code, out, _ = run(capsys, "config", "-f", str(stack), "--format", "json")
    assert code == 0
    assert json.loads(out)["services"]["web"]["ports"][0]["published"] == "8080"


def test_listings(capsys: pytest.CaptureFixture[str], stack: Path) -> None:
    assert run(capsys, "config", "-f", str(stack), "--services")[1] == "api\nweb\n"
    assert run(capsys, "config", "-f", str(stack), "--volumes")[1] == "data\n"
    assert run(capsys, "config", "-f", str(stack), "--profiles")[1] == "debug\n"
    out = run(capsys, "config", "-f", str(stack), "--profile", "debug", "--services")[1]
    assert out == "api\ndebug\nweb\n"
    assert run(capsys, "config", "-f", str(stack), "--images")[1] == "shop-api\nnginx\n"


def test_named_services_select_with_dependencies(
    capsys: pytest.CaptureFixture[str], stack: Path
) -> None:
    code, out, _ = run(capsys, "config", "-f", str(stack), "--services", "debug")
    assert (code, out) == (0, "debug\n")  # named: selected whatever its profiles
    code, out, _ = run(capsys, "config", "-f", str(stack), "--services", "web")
    assert (code, out) == (0, "api\nweb\n")  # web depends on api


def test_quiet_and_project_name(capsys: pytest.CaptureFixture[str], stack: Path) -> None:
    assert run(capsys, "config", "-f", str(stack), "-q") == (0, "", "")
    out = run(capsys, "config", "-f", str(stack), "-p", "other")[1]
    assert yaml.safe_load(out)["networks"]["default"]["name"] == "other_default"


def test_no_normalize_and_no_path_resolution(
    capsys: pytest.CaptureFixture[str], stack: Path
) -> None:
    out = run(capsys, "config", "-f", str(stack), "--no-normalize", "--no-path-resolution")[1]
    data = yaml.safe_load(out)
    assert "networks" not in data
    assert data["services"]["api"]["build"] == {"context": "./api"}


def test_no_interpolate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: ${IMG}\n    tty: ${T}\n")
    out = run(capsys, "config", "-f", str(tmp_path / "compose.yaml"), "--no-interpolate")[1]
    assert yaml.safe_load(out)["services"]["a"]["image"] == "${IMG}"
    assert yaml.safe_load(out)["services"]["a"]["tty"] == "${T}"


def test_error_is_located_and_exits_15(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  web:\n    image: nginx\n    portz: [80]\n")
    code, out, err = run(capsys, "config", "-f", str(path))
    assert code == 15
    assert out == ""
    assert f"{path}:4:5: services.web.portz: unknown key 'portz' (did you mean 'ports'?)" in err
    assert "Traceback" not in err


def test_output_file(capsys: pytest.CaptureFixture[str], stack: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, _ = run(capsys, "config", "-f", str(stack), "--format", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["name"] == "shop"


def test_bad_format_is_usage_error(capsys: pytest.CaptureFixture[str], stack: Path) -> None:
    code, _, err = run(capsys, "config", "-f", str(stack), "--format", "toml")
    assert code == 2
    assert "--format 'toml'" in err


def test_schema_describes_written_forms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "--schema")
    assert code == 0
    schema = json.loads(out)
    service = schema["$defs"]["Service"]
    assert service["additionalProperties"] is False
    assert service["patternProperties"] == {"^x-": {}}
    assert "__extensions__" not in out
    ports = service["properties"]["ports"]["anyOf"][0]["items"]["anyOf"]
    assert {"type": "string"} in ports and {"type": "integer"} in ports
    ulimit = service["properties"]["ulimits"]["anyOf"][0]["additionalProperties"]["anyOf"]
    assert {"type": "integer"} in ulimit


def test_config_help_stays_light() -> None:
    code = (
        "import sys\nsys.argv=['stackctl','config','--help']\n"
        "from stackctl.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print([m for m in ('pydantic','yaml') if m in sys.modules], file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "--no-interpolate" in res.stdout
    assert res.stderr.strip().splitlines()[-1] == "[]"


def test_warnings_go_to_stderr(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text('version: "3.8"\nservices:\n  a:\n    image: x\n')
    code, out, err = run(capsys, "config", "-f", str(path), "-q")
    assert (code, out) == (0, "")
    assert f"Warning: {path}:1:1: the attribute `version` is obsolete" in err


VARS = """services:
  web:
    image: "nginx:${TAG:-latest}"
    ports: ["${PORT:-8080}:80"]
    environment:
      A: ${NEEDED:?set it}
      B: ${OPT:+yes}
"""


def test_variables_table_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(VARS)
    code, out, _ = run(capsys, "config", "-f", str(path), "--variables")
    assert code == 0
    assert out.splitlines() == [
        "NAME     REQUIRED   DEFAULT VALUE   ALTERNATE VALUE",
        "NEEDED   true",
        "OPT      false                      yes",
        "PORT     false      8080",
        "TAG      false      latest",
    ]
    out = run(capsys, "config", "-f", str(path), "--variables", "--format", "json")[1]
    assert json.loads(out)["PORT"] == {
        "Name": "PORT",
        "DefaultValue": "8080",
        "PresenceValue": "",
        "Required": False,
    }


def test_no_interpolate_keeps_expressions_and_ignores_selection(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """docker/compose e2e TestLocalComposeConfig / TestConfigInterpolate."""
    path = tmp_path / "compose.yaml"
    path.write_text(VARS)
    code, out, err = run(capsys, "config", "-f", str(path), "--no-interpolate", "web")
    assert code == 0
    assert "service filtering is not applied when --no-interpolate is set" in err
    assert "- ${PORT:-8080}:80" in out
    # the uninterpolated model prints as a plain sorted map: networks before services
    assert out.index("\nnetworks:") < out.index("\nservices:")


def test_e2e_config_scenarios(capsys: pytest.CaptureFixture[str], conformance: Path) -> None:
    """docker/compose e2e TestConfig, TestConfigInterpolate, TestLocalComposeConfig."""
    base = conformance / "compose-e2e" / "testdata"
    d = base / "TestConfig"
    out = run(capsys, "config", "-f", str(d / "compose.yaml"), "-p", "p1")[1]
    assert out == (
        f"name: p1\nservices:\n  nginx:\n    build:\n      context: {d}/nginx-build\n"
        "      dockerfile: Dockerfile\n    networks:\n      default: null\n"
        "networks:\n  default:\n    name: p1_default\n"
    )
    d = base / "TestConfigInterpolate"
    out = run(capsys, "config", "-f", str(d / "compose.yaml"), "-p", "p2", "--no-interpolate")[1]
    assert out == (
        "name: p2\nnetworks:\n  default:\n    name: p2_default\nservices:\n  nginx:\n"
        f"    build:\n      context: {d}/nginx-build\n      dockerfile: ${{MYVAR}}\n"
        "    networks:\n      default: null\n"
    )
    f = str(base / "TestLocalComposeConfig" / "compose.yaml")
    out = run(capsys, "config", "-f", f)[1]
    assert (
        "\n    ports:\n      - mode: ingress\n        target: 80\n"
        '        published: "8080"\n        protocol: tcp' in out
    )
    assert '"published": "8080"' in run(capsys, "config", "-f", f, "--format", "json")[1]
    assert "- ${PORT:-8080}:80" in run(capsys, "config", "-f", f, "--no-interpolate")[1]


def test_keys_stackctl_does_not_apply_are_warned_about(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  a:\n    image: x\n    mac_address: 02:42:ac:11:00:02\n"
                    "    cpu_rt_runtime: 5000\n    mem_limit: 64m\n    cpu_shares: 512\n")
    code, _, err = run(capsys, "config", "-f", str(path), "-q")
    assert code == 0
    assert f"{path}:4:5: services.a.mac_address is not supported by stackctl and is ignored" \
        in err
    assert "services.a.cpu_rt_runtime is not supported" in err
    assert "mem_limit" not in err and "cpu_shares" not in err  # these apply
