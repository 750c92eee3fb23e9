"""extends and include, against compose-go's testdata and our own cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackctl.errors import SpecError
from stackctl.spec.options import LoadOptions, RawProject
from stackctl.spec.raw import load_raw


def _load(*files: Path | str, env: dict[str, str] | None = None, **kw: Any) -> RawProject:
    return load_raw(LoadOptions(files=tuple(str(f) for f in files), environ=env or {}, **kw))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def testdata(conformance: Path) -> Path:
    return conformance / "compose-loader/compose-go-testdata"


def test_extends_other_file(testdata: Path) -> None:
    raw = _load(testdata / "compose-test-extends.yaml")
    assert raw.data["services"] == {
        "importer": {
            "image": "nginx",
            "container_name": "imported",
            "env_file": ["subdir/extra.env"],  # rebased to the extending file's directory
            "volumes": ["/opt/data:/var/lib/mysql"],
        }
    }
    # Inherited keys point into the base file.
    loc = raw.positions.locate(("services", "importer", "image"))
    assert loc is not None and loc.file.endswith("subdir/compose-test-extends-imported.yaml")
    loc = raw.positions.locate(("services", "importer"))
    assert loc is not None and loc.file.endswith("compose-test-extends.yaml")


def test_extends_uses_the_project_environment(testdata: Path) -> None:
    raw = _load(testdata / "compose-test-extends.yaml", env={"SOURCE": "env"})
    assert raw.data["services"]["importer"]["container_name"] == "env"


def test_extends_same_file_nested_and_reset(testdata: Path) -> None:
    raw = _load(testdata / "extends/base.yaml")
    assert raw.data["services"]["another"] == {"image": "base"}
    raw = _load(testdata / "extends/reset.yaml")
    assert raw.data["services"]["base"] == {"image": "alpine:latest"}  # command: !reset


def test_extends_chain_through_directories(testdata: Path) -> None:
    raw = _load(testdata / "extends/withdir/compose.yaml")
    assert raw.data["services"]["test"] == {"image": "hello-world"}


def test_extends_relative_build_context(testdata: Path, tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml",
           "services:\n  test:\n    extends: {file: " + str(testdata / "extends/base.yaml")
           + ", service: with-build}\n")
    raw = _load(tmp_path / "compose.yaml")
    context = raw.data["services"]["test"]["build"]
    assert Path(tmp_path, context).resolve() == (testdata / "extends").resolve()


def test_extends_ports_are_not_duplicated(testdata: Path, tmp_path: Path) -> None:
    over = _write(tmp_path / "over.yaml",
                  "services:\n  test:\n    extends:\n      file: "
                  + str(testdata / "extends/ports.yaml") + "\n      service: test\n")
    raw = _load(testdata / "extends/ports.yaml", over)
    assert raw.data["services"]["test"]["ports"] == ["8080:8080"]


def test_extends_ulimits_and_nil(testdata: Path, tmp_path: Path) -> None:
    base = testdata / "extends/base.yaml"
    _write(tmp_path / "c.yaml",
           f"services:\n  u:\n    extends: {{file: {base}, service: withUlimits}}\n"
           f"  n:\n    image: test\n    extends: {{file: {base}, service: nil}}\n")
    raw = _load(tmp_path / "c.yaml")
    assert raw.data["services"]["u"]["ulimits"]["nproc"] == 65535
    assert raw.data["services"]["n"] == {"image": "test"}


def test_extends_same_file_from_sub_directory(tmp_path: Path) -> None:
    # compose-go TestLoadExtendsSameFile: paths end up relative to the project.
    _write(tmp_path / "sub/compose.yaml",
           "services:\n  base:\n    build:\n      context: ..\n"
           "  service:\n    extends: base\n    build:\n      target: target\n")
    _write(tmp_path / "compose.yaml",
           "services:\n  out-base:\n    extends: {file: sub/compose.yaml, service: base}\n"
           "  out-service:\n    extends: {file: sub/compose.yaml, service: service}\n")
    raw = _load(tmp_path / "compose.yaml")
    assert raw.data["services"]["out-base"]["build"] == {"context": "."}
    assert raw.data["services"]["out-service"]["build"] == {"context": ".", "target": "target"}


@pytest.mark.parametrize(
    ("service", "key", "value"),
    [
        ("with_depends_on", "depends_on", ["zot"]),
        ("with_volumes_from", "volumes_from", ["zot"]),
        ("with_ipc", "ipc", "service:zot"),
        ("with_network_mode", "network_mode", "service:zot"),
    ],
)
def test_extends_inherits_references_to_other_services(testdata: Path, tmp_path: Path,
                                                       service: str, key: str,
                                                       value: object) -> None:
    # compose-go TestExtendsWithServiceRef: inherited, then "zot" is undefined for
    # validation to report (B's cross-checks), not an extends error.
    _write(tmp_path / "c.yaml", f"services:\n  bar:\n    extends:\n      file: "
           f"{testdata / 'extends/depends_on.yaml'}\n      service: {service}\n")
    raw = _load(tmp_path / "c.yaml")
    assert raw.data["services"]["bar"] == {"image": "foo", key: value}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  a:\n    extends: a\n", "c.yaml:3:5: services.a.extends: "
                                               "extends cycle detected: a -> a"),
        ("services:\n  a:\n    extends: b\n  b:\n    extends: {service: a}\n",
         "extends cycle detected: a -> b -> a"),
        ("services:\n  a:\n    extends: nope\n",
         'c.yaml:3:5: services.a.extends: cannot extend service "a": service "nope" not found'),
        ("services:\n  a:\n    extends: {file: missing.yaml, service: x}\n",
         "services.a.extends.file: cannot extend service 'a': file "),
        ("services:\n  a:\n    extends: {file: other.yaml}\n",
         "extends needs the name of the service"),
        ("services:\n  a:\n    extends: [x]\n", "extends must be a service name or a mapping"),
    ],
)
def test_extends_errors(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path / "c.yaml", text)
    with pytest.raises(SpecError) as info:
        _load(tmp_path / "c.yaml")
    assert message in str(info.value).replace(str(tmp_path) + "/", "")


def test_extends_override_file_positions(tmp_path: Path) -> None:
    _write(tmp_path / "c.yaml", "services:\n  base:\n    image: a\n    ports: ['1:1']\n"
                                "  web:\n    extends: base\n    ports: ['2:2']\n")
    raw = _load(tmp_path / "c.yaml")
    assert raw.data["services"]["web"] == {"image": "a", "ports": ["1:1", "2:2"]}
    assert str(raw.positions.locate(("services", "web", "ports", 0))).endswith("c.yaml:4:13")
    assert str(raw.positions.locate(("services", "web", "ports", 1))).endswith("c.yaml:7:13")


def test_include_cycle(testdata: Path) -> None:
    with pytest.raises(SpecError) as info:
        _load(testdata / "compose-include-cycle.yaml")
    assert info.value.bare_message.startswith("include cycle detected")


def test_include_project_directory(testdata: Path) -> None:
    raw = _load(testdata / "include/project-directory.yaml")
    service = raw.data["services"]["service"]
    subdir = str(testdata / "subdir")
    assert service["build"]["context"] == subdir
    assert service["volumes"][0]["source"] == subdir + "/compose-test-extends-imported.yaml"
    assert service["env_file"] == [subdir + "/extra.env"]
    loc = raw.positions.locate(("services", "service", "env_file"))
    assert loc is not None and loc.file == str(testdata / "include/dir/compose.yaml")


def test_include_short_form_and_own_services(testdata: Path) -> None:
    raw = _load(testdata / "compose-include.yaml")
    assert set(raw.data["services"]) == {"bar", "imported"}
    assert "include" not in raw.data
    assert raw.data["services"]["imported"]["env_file"] == [str(testdata / "subdir/extra.env")]


def test_include_then_extends_in_included_file(testdata: Path) -> None:
    raw = _load(testdata / "combined/compose.yaml")
    assert raw.data["services"] == {"service": {"build": str(testdata / "combined/dir")}}


def test_include_relative_paths_and_env(tmp_path: Path) -> None:
    _write(tmp_path / "db/compose.yaml",
           "services:\n  db:\n    image: pg:${PGV}\n    volumes: ['./data:/var/lib/pg']\n"
           "secrets:\n  pw:\n    file: ./pw.txt\n")
    _write(tmp_path / "db/.env", "PGV=15\nIMG=nope\n")
    _write(tmp_path / "compose.yaml",
           "include:\n  - db/compose.yaml\nservices:\n  app:\n    image: $IMG\n")
    raw = _load(tmp_path / "compose.yaml", env={"IMG": "app"})
    assert raw.data["services"]["db"] == {
        "image": "pg:15", "volumes": [f"{tmp_path}/db/data:/var/lib/pg"]}
    assert raw.data["secrets"] == {"pw": {"file": f"{tmp_path}/db/pw.txt"}}
    assert raw.data["services"]["app"] == {"image": "app"}


def test_include_conflict(tmp_path: Path) -> None:
    _write(tmp_path / "inc.yaml", "services:\n  web:\n    image: a\n")
    _write(tmp_path / "compose.yaml", "include: [inc.yaml]\nservices:\n  web:\n    image: b\n")
    with pytest.raises(SpecError, match="defines conflicting service web"):
        _load(tmp_path / "compose.yaml")
    _write(tmp_path / "compose.yaml", "include: [inc.yaml]\nservices:\n  web:\n    image: a\n")
    assert _load(tmp_path / "compose.yaml").data["services"] == {"web": {"image": "a"}}


def test_empty_include_is_dropped(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml", "include:\nservices: {}\n")
    assert _load(tmp_path / "compose.yaml").data == {"services": {}}


def test_include_errors(tmp_path: Path) -> None:
    _write(tmp_path / "compose.yaml", "include:\n  - nope.yaml\n")
    with pytest.raises(SpecError, match=r"included file .*nope.yaml not found"):
        _load(tmp_path / "compose.yaml")
    _write(tmp_path / "compose.yaml", "include:\n  - {path: x.yaml, bogus: 1}\n")
    with pytest.raises(SpecError, match="unknown include key 'bogus'"):
        _load(tmp_path / "compose.yaml")
    _write(tmp_path / "a.yaml", "include: [b.yaml]\n")
    _write(tmp_path / "b.yaml", "include: [a.yaml]\n")
    cycle = r"include cycle detected: .*a.yaml -> .*b.yaml -> .*a.yaml"
    with pytest.raises(SpecError, match=cycle):
        _load(tmp_path / "a.yaml")


def test_override_tag_in_the_middle_of_an_extends_chain(tmp_path: Path) -> None:
    # compose-go TestOverrideMiddle (docker/compose#13298).
    _write(tmp_path / "base.yaml",
           "services:\n  base:\n    volumes:\n      - /foo:/foo\n    networks:\n      - foo\n")
    _write(tmp_path / "override.yaml",
           "services:\n  override:\n    extends:\n      file: ./base.yaml\n      service: base\n"
           "    volumes: !override\n      - /bar:/bar\n    networks: !override\n      - bar\n")
    _write(tmp_path / "compose.yaml",
           "name: test\nservices:\n  test:\n    image: test\n    extends:\n"
           "      file: ./override.yaml\n      service: override\n"
           "    volumes:\n      - /zot:/zot\n    networks: !override\n      - zot\n"
           "networks:\n  zot: {}\n")
    test = _load(tmp_path / "compose.yaml").data["services"]["test"]
    assert test == {"image": "test", "volumes": ["/bar:/bar", "/zot:/zot"], "networks": ["zot"]}


def test_override_tag_with_self_extends(tmp_path: Path) -> None:
    # compose-go TestOverrideSelfExtends (docker/compose#13346).
    _write(tmp_path / "compose.yaml", """\
services:
  depend_base: {image: nginx, ports: ["8092:80"]}
  depend_one: {image: nginx, ports: ["8091:80"]}
  depend_two:
    extends: {service: depend_one}
  main_one:
    image: nginx
    depends_on: [depend_one]
    ports: ["8090:80"]
  main_two:
    extends: main_one
    depends_on: !override
      - depend_two
  main:
    extends: {service: main_two}
    depends_on: [depend_base]
""")
    main = _load(tmp_path / "compose.yaml").data["services"]["main"]
    assert main["depends_on"] == {
        "depend_two": {"condition": "service_started", "required": True},
        "depend_base": {"condition": "service_started", "required": True},
    }
    assert main["ports"] == ["8090:80"]


def test_override_networks_and_depends_on(tmp_path: Path) -> None:
    # compose-go TestOverrideNetworks / TestOverrideDepends_on / TestOverrideVolume.
    base = _write(tmp_path / "base.yaml",
                  "services:\n  test:\n    image: test\n    networks: [test_network]\n"
                  "    depends_on: [foo]\n    volumes: [./src:/src]\n    build: .\n"
                  "  foo: {image: foo}\nnetworks:\n  test_network: {}\n")
    over = _write(tmp_path / "over.yaml",
                  "services:\n  test:\n    networks:\n      test_network:\n"
                  "        aliases: [alias1, alias2]\n    depends_on:\n      foo:\n"
                  "        condition: service_healthy\n        required: false\n"
                  "    volumes: [./src:/src]\n    build: {context: src}\n")
    test = _load(base, over).data["services"]["test"]
    assert test["networks"] == {"test_network": {"aliases": ["alias1", "alias2"]}}
    assert test["depends_on"] == {"foo": {"condition": "service_healthy", "required": False}}
    assert test["volumes"] == ["./src:/src"]
    assert test["build"] == {"context": "src"}


def test_very_long_extends_chain_is_refused(tmp_path: Path) -> None:
    # Declared last-first, so resolving s79 walks the whole chain at once.
    lines = [f"  s{i}: {{extends: s{i - 1}}}" for i in range(79, 0, -1)]
    _write(tmp_path / "c.yaml", "services:\n" + "\n".join(lines) + "\n  s0: {image: x}\n")
    with pytest.raises(SpecError, match="extends chain longer than 64 services"):
        _load(tmp_path / "c.yaml")
    _write(tmp_path / "c.yaml", "services:\n" + "\n".join(lines[-40:]) + "\n  s0: {image: x}\n")
    assert _load(tmp_path / "c.yaml").data["services"]["s40"] == {"image": "x"}
