"""The pure step plan: ARG/ENV scoping, config folding, stage selection, cache keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.engine.build.cache import BuildCache, cache_key
from stackctl.engine.build.plan import Step, plan_stage
from stackctl.engine.build.runmounts import RunMount, parse_mount
from stackctl.engine.build.stages import load
from stackctl.engine.build.targets import meta_values, needed_stages
from stackctl.engine.images.config import ImageConfig
from stackctl.errors import DockerfileParseError
from stackctl.lightdc import replace

BASE = ImageConfig(env=("PATH=/usr/bin:/bin",), cmd=("sh",))


def plan(text: str, *, args: dict[str, str] | None = None, base: ImageConfig = BASE,
         index: int = -1, labels: dict[str, str] | None = None) -> list[Step]:
    build = load(text)
    args = args or {}
    meta = meta_values(build, args)
    return plan_stage(build, build.stages[index], base, meta=meta, build_args=args,
                      labels=labels)


def test_meta_args_only_reach_from_unless_redeclared() -> None:
    text = "ARG V=1\nFROM busybox:$V\nRUN echo $V\nARG V\nRUN echo $V\nENV W=${V}x\n"
    steps = plan(text)
    assert [s.created_by for s in steps] == [
        "RUN /bin/sh -c echo $V",
        "ARG V=1",
        "RUN |1 V=1 /bin/sh -c echo $V",
        "ENV W=1x",
    ]
    assert "V=1" not in steps[0].run.env  # type: ignore[union-attr]
    assert "V=1" in steps[2].run.env  # type: ignore[union-attr]
    assert steps[-1].state.config.env_dict == {"PATH": "/usr/bin:/bin", "W": "1x"}


def test_build_args_override_defaults_and_meta() -> None:
    text = "ARG V=1\nFROM busybox\nARG V\nARG X=dflt\nENV OUT=$V-$X\n"
    steps = plan(text, args={"V": "9", "X": "given"})
    assert steps[-1].state.config.env_dict["OUT"] == "9-given"
    build = load(text)
    assert build.stages[0].source.base == "busybox"
    assert meta_values(build, {"V": "9"})["V"] == "9"


def test_env_overrides_arg_and_one_env_sees_the_old_values() -> None:
    steps = plan("FROM b\nARG A=arg\nENV A=env\nENV B=$A C=1 D=$C\n")
    env = steps[-1].state.config.env_dict
    assert env["B"] == "env"  # ENV wins over ARG of the same name
    assert env["D"] == ""  # C was not set before this instruction


def test_config_folding() -> None:
    steps = plan("""\
FROM b
WORKDIR /app
WORKDIR sub/../lib
USER 1000:1000
EXPOSE 80 8000-8001/tcp 53/udp
VOLUME ["/data"]
VOLUME /logs
LABEL a=1 "b c"="d e"
STOPSIGNAL SIGINT
SHELL ["/bin/bash", "-c"]
CMD echo hi
ENTRYPOINT ["tini", "--"]
ONBUILD RUN make
MAINTAINER someone
""")
    final = steps[-1].state
    cfg = final.config
    assert cfg.working_dir == "/app/lib" and cfg.user == "1000:1000"
    assert cfg.exposed_ports == ("53/udp", "80/tcp", "8000/tcp", "8001/tcp")
    assert cfg.volumes == ("/data", "/logs")
    assert cfg.labels == (("a", "1"), ("b c", "d e"))
    assert cfg.stop_signal == "SIGINT" and cfg.shell == ("/bin/bash", "-c")
    assert cfg.cmd == ("/bin/bash", "-c", "echo hi")  # SHELL applies to shell forms
    assert cfg.entrypoint == ("tini", "--")
    assert cfg.on_build == ("RUN make",)
    assert final.author == "someone"
    assert {s.kind for s in steps} == {"config", "workdir"}


def test_entrypoint_resets_inherited_cmd_only() -> None:
    assert plan("FROM b\nENTRYPOINT [\"x\"]\n")[-1].state.config.cmd is None
    steps = plan("FROM b\nCMD [\"y\"]\nENTRYPOINT [\"x\"]\n")
    assert steps[-1].state.config.cmd == ("y",)


def test_run_forms_and_heredocs() -> None:
    steps = plan("""\
FROM b
RUN ["echo", "exec"]
RUN <<EOF
echo one
EOF
RUN <<EOF python3
print(1)
EOF
RUN <<EOF
#!/usr/bin/env python3
print(2)
EOF
RUN --network=host --mount=type=cache,target=/c,id=pip true
""")
    runs = [s.run for s in steps]
    assert runs[0] is not None and runs[0].argv == ("echo", "exec")
    assert runs[1] is not None and runs[1].argv == ("/bin/sh", "-c", "echo one\n")
    assert runs[2] is not None and runs[2].argv == (
        "/bin/sh", "-c", "<<EOF python3\nprint(1)\nEOF")
    assert runs[3] is not None and runs[3].argv == ("/dev/pipes/EOF",)
    assert runs[3].scripts == (("EOF", "#!/usr/bin/env python3\nprint(2)\n"),)
    assert runs[4] is not None and runs[4].network == "host"
    assert runs[4].mounts == (RunMount("cache", "/c", id="pip"),)
    assert runs[0].network == "none"


def test_copy_destinations_and_heredoc_expansion() -> None:
    steps = plan("""\
FROM b
ENV NAME=world
WORKDIR /app
COPY a b ./
COPY x /abs
COPY --chown=$NAME:$NAME y .
COPY <<EOF <<'RAW' conf/
hello "$NAME" \\$NAME
EOF
$NAME
RAW
""")
    copies = [s.copy for s in steps if s.copy is not None]
    assert [c.dest for c in copies] == ["/app/", "/abs", "/app/", "/app/conf/"]
    assert copies[2].chown == "world:world"
    assert copies[3].contents == (("EOF", 'hello "world" $NAME\n'), ("RAW", "$NAME\n"))


def test_onbuild_triggers_run_first_and_are_not_inherited() -> None:
    base = ImageConfig(on_build=("ENV FROM_TRIGGER=1", "RUN make"))
    steps = plan("FROM b\nRUN test\n", base=base)
    assert [s.created_by for s in steps] == [
        "ENV FROM_TRIGGER=1", "RUN /bin/sh -c make", "RUN /bin/sh -c test"]
    assert steps[-1].state.config.on_build == ()


def test_labels_option_adds_a_final_step() -> None:
    steps = plan("FROM b\nLABEL a=1\n", labels={"b": "2"})
    assert steps[-1].created_by == "LABEL b=2"
    assert steps[-1].state.config.labels == (("a", "1"), ("b", "2"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM b\nEXPOSE 80/xyz\n", "Dockerfile:2: invalid containerPort: 80/xyz"),
        ("FROM b\nSTOPSIGNAL SIGNOPE\n", "Dockerfile:2: Invalid signal: SIGNOPE"),
        ("FROM b\nENV A=${B:?unset}\n", "Dockerfile:2: failed to process .*B: unset"),
        ("FROM b\nRUN --mount=type=secret,id=x true\n", "need a build session"),
        ("FROM b\nVOLUME $EMPTY\n", "VOLUME specified can not be an empty string"),
    ],
)
def test_expansion_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(DockerfileParseError, match=message):
        plan(text)


def test_needed_stages(conformance: Path) -> None:
    text = """\
FROM busybox AS a
FROM busybox AS b
FROM a AS c
COPY --from=b /x /x
FROM busybox AS unused
FROM c
"""
    build = load(text)
    meta = meta_values(build, {})
    assert [s.ref for s in needed_stages(build, None, meta)] == ["a", "b", "c", "4"]
    assert [s.ref for s in needed_stages(build, "b", meta)] == ["b"]
    with pytest.raises(DockerfileParseError, match="target stage 'nope' could not be found"):
        needed_stages(build, "nope", meta)
    flask = conformance / "awesome-compose" / "flask" / "app" / "Dockerfile"
    build = load(flask.read_bytes())
    meta = meta_values(build, {})
    assert [s.ref for s in needed_stages(build, "builder", meta)] == ["builder"]


def test_cache_key_material(tmp_path: Path) -> None:
    steps = plan("FROM b\nARG V=1\nRUN echo $V\n")
    run = steps[-1]
    key = cache_key("sha256:parent", run)
    assert key == cache_key("sha256:parent", run)
    assert key != cache_key("sha256:other", run)
    other = plan("FROM b\nARG V=1\nRUN echo $V\n", args={"V": "2"})[-1]
    assert key != cache_key("sha256:parent", other)  # a build arg in scope changed
    copy = plan("FROM b\nCOPY a /a\n")[-1]
    assert cache_key("p", copy, "sha256:1") != cache_key("p", copy, "sha256:2")
    cache = BuildCache(tmp_path)
    assert cache.get(key) is None
    cache.put(key, "sha256:img")
    assert cache.get(key) == "sha256:img"
    cache.forget(key)
    assert cache.get(key) is None


def test_parse_mount() -> None:
    assert parse_mount("type=bind,source=src,target=/src") == RunMount(
        "bind", "/src", source="src", readonly=True)
    assert parse_mount("type=tmpfs,dst=/t,size=10m").size == "10m"
    assert parse_mount("target=/x,rw").readonly is False
    with pytest.raises(ValueError, match="mount target must be specified"):
        parse_mount("type=cache")
    with pytest.raises(ValueError, match="unexpected key 'bogus'"):
        parse_mount("type=cache,target=/x,bogus=1")


def test_platform_warning() -> None:
    from stackctl.engine.build.targets import platform_warning, predefined_args

    build = load("FROM --platform=$BUILDPLATFORM a\nFROM --platform=linux/s390x b\n")
    meta = meta_values(build, {})
    assert platform_warning(build, build.stages[0], meta) is None
    warning = platform_warning(build, build.stages[1], meta)
    host = predefined_args()["BUILDPLATFORM"]
    assert warning == (f"Dockerfile:2: FROM --platform=linux/s390x is not the host platform "
                       f"({host}); the local image is used as it is")


def test_default_network() -> None:
    text = "FROM b\nRUN a\nRUN --network=none b\nRUN --network=default c\n"
    build = load(text)
    steps = plan_stage(build, build.stages[0], BASE, meta={}, build_args={}, network="host")
    assert [s.run.network for s in steps if s.run] == ["host", "none", "host"]


def test_same_text_different_config_is_a_different_key() -> None:
    # On one parent image, ENTRYPOINT keeps a CMD set in its stage but drops an
    # inherited one: the key must tell them apart.
    keeps = plan("FROM b\nCMD [\"x\"]\nENTRYPOINT [\"y\"]\n")[-1]
    drops = plan("FROM b\nENTRYPOINT [\"y\"]\n", base=replace(BASE, cmd=("x",)))[-1]
    assert keeps.created_by == drops.created_by
    assert cache_key("sha256:p", keeps) != cache_key("sha256:p", drops)


def test_awesome_compose_dockerfiles_plan(conformance: Path) -> None:
    files = [p for p in (conformance / "awesome-compose").rglob("*") if "Dockerfile" in p.name]
    planned = 0
    for path in files:
        build = load(path.read_bytes(), file=str(path))
        meta = meta_values(build, {})
        targets = [None] + (["builder"] if build.stage("builder") else [])
        for target in targets:
            for stage in needed_stages(build, target, meta):
                steps = plan_stage(build, stage, BASE, meta=meta, build_args={})
                planned += len(steps)
    assert planned > 50


def test_cache_prune(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path)
    cache.put("sha256:" + "1" * 64, "sha256:alive")
    cache.put("sha256:" + "2" * 64, "sha256:gone")
    mounts = tmp_path / "buildcache" / "mounts" / "x"
    mounts.mkdir(parents=True)
    (mounts / "f").write_bytes(b"12345")
    entries, _ = cache.prune(lambda image_id: image_id == "sha256:alive")
    assert entries == 1 and cache.get("sha256:" + "1" * 64) == "sha256:alive"
    assert mounts.exists()
    entries, freed = cache.prune(lambda image_id: True, everything=True)
    assert entries == 1 and freed >= 5 and not mounts.exists()
