"""The builder on the real kernel: busybox base, overlay snapshots, runc.

Each test builds in its own state root and checks the result by running
commands inside the built image (a real container over a snapshot).
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from stackctl.engine.build.builder import Builder, BuildRequest, BuildResult
from stackctl.engine.build.plan import RunSpec
from stackctl.engine.build.runstep import run_step
from stackctl.engine.build.snapshot import mounted
from stackctl.engine.images.store import ImageStore
from stackctl.errors import BuildError, DockerfileParseError

pytestmark = pytest.mark.kernel


class Sink:
    """Records the builder's progress events."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.data = b""

    def step(self, vertex: int, stage: str, index: int, count: int, text: str) -> None:
        self.events.append(f"step {stage} {text}")

    def cached(self) -> None:
        self.events.append("cached")

    def output(self, data: bytes) -> None:
        self.data += data

    def done(self) -> None:
        self.events.append("done")

    def warning(self, text: str) -> None:
        self.events.append("warning " + text)


@pytest.fixture
def env(busybox_image: tuple[Path, str], roots: tuple[Path, Path], tmp_path: Path):  # type: ignore[no-untyped-def]
    root, _ = busybox_image
    _, run_root = roots
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    store = ImageStore(root)
    yield store, run_root, ctx
    store.close()


def build(env, dockerfile: str, *, runtime: str = "stackctl",  # type: ignore[no-untyped-def]
          **kw) -> tuple[BuildResult, Sink]:
    store, run_root, ctx = env
    sink = Sink()
    req = BuildRequest(ctx, dockerfile.encode(), **kw)
    builder = Builder(store, run_root=run_root, progress=sink, runtime=runtime)
    return builder.build(req), sink


def sh(env, image: str, script: str) -> str:  # type: ignore[no-untyped-def]
    """Run ``script`` in a container of ``image``; return its output."""
    store, run_root, _ = env
    out: list[bytes] = []
    with mounted(store, store.resolve(image)) as snap:
        spec = RunSpec(("/bin/sh", "-c", script), ("PATH=/bin:/usr/bin",), "", "/", "none")
        code = run_step(spec, snap, root=store.root, run_root=run_root, context=None,
                        output=out.append)
    assert code == 0, b"".join(out)
    return b"".join(out).decode()


def test_files_owners_modes_and_config(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    (ctx / "a.txt").write_text("hello\n")
    (ctx / "dir").mkdir()
    (ctx / "dir" / "x").write_text("x\n")
    os.chmod(ctx / "dir" / "x", 0o700)
    os.symlink("x", ctx / "dir" / "link")
    result, _ = build(env, """\
FROM busybox
ARG WHO=world
ENV GREETING="hello $WHO" PATH=/opt/bin:/bin:/usr/bin
LABEL org.example.name=demo
WORKDIR /app
COPY a.txt ./
COPY --chown=1000:1001 --chmod=0640 dir /data/
COPY <<EOF /app/inline.txt
$GREETING
EOF
RUN echo "$GREETING" > /app/run.txt && rm /bin/vi && \\
    echo "someone:x:4321:4321::/tmp:/bin/sh" >> /etc/passwd
USER someone
RUN id -u > /tmp/uid
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=2 CMD true
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/run.txt"]
""", tags=("demo:1",), build_args={"WHO": "docker"})
    out = sh(env, "demo:1", "cat /app/a.txt /app/run.txt /app/inline.txt; "
             "stat -c '%n %u:%g %a' /data /data/x /app/a.txt; readlink /data/link; "
             "test -e /bin/vi || echo vi-gone; cat /tmp/uid")
    assert out.splitlines() == [
        "hello", "hello docker", "hello docker",
        "/data 1000:1001 755", "/data/x 1000:1001 640", "/app/a.txt 0:0 644",
        "x", "vi-gone", "4321",
    ]
    store, _, _ = env
    cfg = store.resolve("demo:1").config
    assert cfg.env == ("GREETING=hello docker", "PATH=/opt/bin:/bin:/usr/bin")
    assert cfg.working_dir == "/app" and cfg.user == "someone"
    assert cfg.exposed_ports == ("53/udp", "80/tcp")
    assert cfg.volumes == ("/data",) and cfg.stop_signal == "SIGQUIT"
    assert cfg.entrypoint == ("/bin/sh", "-c") and cfg.cmd == ("cat /app/run.txt",)
    assert cfg.labels == (("org.example.name", "demo"),)
    assert cfg.healthcheck is not None and cfg.healthcheck.test == ("CMD-SHELL", "true")
    assert cfg.healthcheck.interval == 5_000_000_000 and cfg.healthcheck.retries == 2
    history = store.resolve("demo:1").image.history
    assert [h.created_by for h in history][-3:] == [
        'HEALTHCHECK {"Interval": 5000000000, "Retries": 2, '
        '"Test": ["CMD-SHELL", "true"]}',
        'ENTRYPOINT ["/bin/sh", "-c"]', 'CMD ["cat /app/run.txt"]']
    assert any(h.created_by.startswith("RUN |1 WHO=docker /bin/sh -c echo") for h in history)
    assert result.cached == 0


def test_cache_reuse_and_invalidation(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    (ctx / "one.txt").write_text("1\n")
    (ctx / "two.txt").write_text("2\n")
    dockerfile = """\
FROM busybox
RUN echo first > /first
COPY one.txt /
RUN cat /one.txt > /copy-of-one
COPY two.txt /
RUN cat /two.txt > /copy-of-two
"""
    first, _ = build(env, dockerfile)
    again, _ = build(env, dockerfile)
    assert again.image_id == first.image_id
    assert again.cached == again.steps == 5
    os.utime(ctx / "one.txt", (1, 1))  # mtimes do not matter
    assert build(env, dockerfile)[0].cached == 5
    (ctx / "two.txt").write_text("changed\n")  # only steps from the first use of two.txt rerun
    changed, _sink = build(env, dockerfile)
    assert changed.cached == 3 and changed.image_id != first.image_id
    os.chmod(ctx / "one.txt", 0o600)  # a mode change is a content change
    assert build(env, dockerfile)[0].cached == 1
    assert build(env, dockerfile, no_cache=True)[0].cached == 0
    assert build(env, dockerfile.replace("first", "other"))[0].cached == 0


def test_build_arg_changes_only_steps_that_see_it(env) -> None:  # type: ignore[no-untyped-def]
    dockerfile = "FROM busybox\nRUN echo a > /a\nARG V=1\nRUN echo $V > /v\n"
    build(env, dockerfile)
    result, _ = build(env, dockerfile, build_args={"V": "2"})
    assert result.cached == 1  # RUN echo a; ARG and the RUN after it change
    _store, _, _ = env
    assert sh(env, result.image_id, "cat /v").strip() == "2"


@pytest.mark.parametrize("runtime", ["stackctl", "runc"])
def test_failing_run_names_line_and_leaves_nothing(env, runtime: str) -> None:  # type: ignore[no-untyped-def]
    store, run_root, _ = env
    before = {r.id for r in store.list()}
    sink = Sink()
    builder = Builder(store, run_root=run_root, progress=sink, runtime=runtime)
    req = BuildRequest(env[2], b"FROM busybox\nRUN echo ok $HOME\nRUN echo failing; exit 3\n",
                       tags=("bad:1",))
    with pytest.raises(BuildError) as info:
        builder.build(req)
    assert sink.data == b"ok /root\nfailing\n"  # live output, HOME from /etc/passwd
    message = info.value.message
    assert message.startswith("Dockerfile:3: RUN echo failing; exit 3:")
    assert "exit code: 3" in message
    assert not store.exists("bad:1")
    # The step before the failure stays as cache (as with Docker); nothing else.
    assert len({r.id for r in store.list()} - before) == 1
    assert list((store.root / "tmp" / "build").iterdir()) == []
    assert not any((run_root / "build").iterdir())
    with open("/proc/self/mountinfo") as fh:
        assert str(store.root) not in fh.read()


def test_multistage_target_skips_unreferenced_stages(env) -> None:  # type: ignore[no-untyped-def]
    dockerfile = """\
FROM busybox AS builder
RUN echo built > /artifact
FROM builder AS dev-envs
COPY --from=gloursdocker/docker / /
FROM busybox AS unused
RUN exit 1
FROM busybox
COPY --from=builder /artifact /artifact
"""
    _result, sink = build(env, dockerfile, tags=("final:1",))
    assert not any("unused" in e or "dev-envs" in e for e in sink.events)
    assert sh(env, "final:1", "cat /artifact").strip() == "built"
    _target, sink = build(env, dockerfile, target="builder", tags=("builder:1",))
    assert all(e.startswith(("step builder", "cached", "done")) for e in sink.events)


def test_context_rules(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    (ctx / "keep.txt").write_text("k")
    (ctx / "secret.env").write_text("s")
    (ctx / ".dockerignore").write_text("*.env\n")
    _result, _ = build(env, "FROM busybox\nCOPY . /ctx/\n", tags=("ctx:1",))
    assert sh(env, "ctx:1", "ls -A /ctx").split() == [".dockerignore", "keep.txt"]
    with pytest.raises(BuildError, match=r"Dockerfile:2: COPY failed: secret.env: not found"):
        build(env, "FROM busybox\nCOPY secret.env /\n")
    with pytest.raises(BuildError, match=r"forbidden path outside the build context: \.\./x"):
        build(env, "FROM busybox\nCOPY ../x /\n")
    with pytest.raises(BuildError, match="destination must be a directory"):
        build(env, "FROM busybox\nCOPY keep.txt .dockerignore /dst\n")


def test_add_extracts_local_archives(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/hello.txt")
        info.mode = 0o644
        data = b"from the archive\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (ctx / "pkg.tar.gz").write_bytes(buf.getvalue())
    build(env, "FROM busybox\nADD pkg.tar.gz /opt/\nADD --chown=7:8 pkg.tar.gz /own/\n"
          "ADD --unpack=false pkg.tar.gz /raw/\n", tags=("add:1",))
    assert sh(env, "add:1", "cat /opt/pkg/hello.txt; stat -c '%u:%g' /opt/pkg/hello.txt "
              "/own/pkg/hello.txt; ls /raw") == "from the archive\n0:0\n7:8\npkg.tar.gz\n"


def test_heredocs_onbuild_and_cache_mount(env) -> None:  # type: ignore[no-untyped-def]
    build(env, """\
FROM busybox
ONBUILD RUN echo triggered > /onbuild
RUN --mount=type=cache,target=/cache <<EOF
echo one >> /cache/runs
cp /cache/runs /runs
EOF
RUN <<'SCRIPT'
#!/bin/sh
echo "shebang $0" > /script-out
SCRIPT
""", tags=("base:1",))
    assert sh(env, "base:1", "cat /runs /script-out") == "one\nshebang /dev/pipes/SCRIPT\n"
    store, _, _ = env
    assert store.resolve("base:1").config.on_build == ("RUN echo triggered > /onbuild",)
    _child, _ = build(env, "FROM base:1\nRUN cat /onbuild\n", tags=("child:1",))
    assert store.resolve("child:1").config.on_build == ()
    assert sh(env, "child:1", "cat /onbuild") == "triggered\n"
    build(env, "FROM busybox\nRUN --mount=type=cache,target=/cache,sharing=locked "
          "cp /cache/runs /again\n", tags=("cache:1",))
    assert sh(env, "cache:1", "cat /again") == "one\n"


def test_parse_errors_surface_before_anything_runs(env) -> None:  # type: ignore[no-untyped-def]
    store, _, _ = env
    before = len(store.list())
    with pytest.raises(DockerfileParseError, match="Dockerfile:3: unknown instruction: RUNN"):
        build(env, "FROM busybox\nRUN echo never\nRUNN x\n")
    with pytest.raises(BuildError, match="FROM nosuchimage:1: no such image"):
        build(env, "FROM nosuchimage:1\n")
    assert len(store.list()) == before


def test_unused_build_arg_warns(env) -> None:  # type: ignore[no-untyped-def]
    result, _sink = build(env, "FROM busybox\nARG USED\n", build_args={"USED": "1", "NOPE": "2"})
    assert result.warnings == ("[Warning] One or more build-args [NOPE] were not consumed",)


def test_workdir_is_created_owned_by_user(env) -> None:  # type: ignore[no-untyped-def]
    build(env, """\
FROM busybox
WORKDIR /made/by/workdir
RUN echo "u:x:1500:1600::/:/bin/sh" >> /etc/passwd
USER u
WORKDIR /owned
WORKDIR /
""", tags=("wd:1",))
    out = sh(env, "wd:1", "stat -c '%n %u:%g' /made/by/workdir /owned")
    assert out.splitlines() == ["/made/by/workdir 0:0", "/owned 1500:1600"]
    store, _, _ = env
    history = store.resolve("wd:1").image.history
    assert [h.empty_layer for h in history[-5:]] == [False, False, True, False, True]


def test_add_url_from_loopback_server(env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import http.server
    import threading

    served = tmp_path / "www"
    served.mkdir()
    (served / "file.txt").write_text("over http\n")
    digest = hashlib.sha256(b"over http\n").hexdigest()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):  # type: ignore[no-untyped-def]
            super().__init__(*a, directory=str(served), **kw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/file.txt"
        build(env, f"FROM busybox\nADD --checksum=sha256:{digest} {url} /dl/\n", tags=("url:1",))
        assert sh(env, "url:1", "cat /dl/file.txt") == "over http\n"
        with pytest.raises(BuildError, match="Dockerfile:2: ADD failed: checksum of"):
            build(env, f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url} /dl/\n")
        with pytest.raises(BuildError, match="Dockerfile:2: ADD failed: cannot fetch"):
            build(env, f"FROM busybox\nADD {url}.missing /dl/\n")
    finally:
        server.shutdown()
        server.server_close()


def test_run_mount_bind_from_stage_and_context(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    (ctx / "input.txt").write_text("v1\n")
    dockerfile = """\
FROM busybox AS tools
RUN echo tool > /tool
FROM busybox
RUN --mount=type=bind,from=tools,source=/tool,target=/mnt/tool \\
    --mount=type=bind,target=/ctx cat /mnt/tool /ctx/input.txt > /seen
"""
    build(env, dockerfile, tags=("mnt:1",))
    assert sh(env, "mnt:1", "cat /seen; test -e /mnt/tool || echo no-trace") == \
        "tool\nv1\nno-trace\n"
    assert build(env, dockerfile)[0].cached == 2
    (ctx / "input.txt").write_text("v2\n")  # the bound context is part of the cache key
    result, _ = build(env, dockerfile, tags=("mnt:2",))
    assert result.cached == 1
    assert sh(env, "mnt:2", "cat /seen") == "tool\nv2\n"


def test_snapshots_of_dead_builds_are_swept(env) -> None:  # type: ignore[no-untyped-def]
    from stackctl.engine.build.snapshot import sweep_stale

    store, _, _ = env
    with mounted(store, store.resolve("busybox")) as snap:
        assert sweep_stale(store) == 0  # ours: alive
        (snap.base / "owner").write_text("999999999 1")  # as if its builder was killed
        assert sweep_stale(store) == 1
        assert not snap.base.exists()
    with open("/proc/self/mountinfo") as fh:
        assert str(store.root) not in fh.read()


def test_security_insecure_is_privileged(env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match="exit code"):
        build(env, "FROM busybox\nRUN mount -t tmpfs none /mnt\n")
    build(env, "FROM busybox\nRUN --security=insecure mount -t tmpfs none /mnt && "
          "touch /mnt/x && umount /mnt\n")


def test_ignored_dockerfile_is_still_read_but_not_copied(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    (ctx / "app.txt").write_text("app")
    (ctx / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    dockerfile = "FROM busybox\nCOPY . /ctx/\n"
    (ctx / "Dockerfile").write_text(dockerfile)
    build(env, dockerfile, tags=("ign:1",))
    assert sh(env, "ign:1", "ls -A /ctx").split() == ["app.txt"]


def test_add_git_repository_is_refused(env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError) as info:
        build(env, "FROM busybox\nADD https://example.invalid/r.git#v1 /src\n")
    assert info.value.message == ("Dockerfile:2: ADD https://example.invalid/r.git#v1: "
                                  "adding git repositories is not supported")


def test_wildcard_sources(env) -> None:  # type: ignore[no-untyped-def]
    _, _, ctx = env
    for name in ("a.txt", "b.txt", "only.cfg"):
        (ctx / name).write_text(name)
    build(env, "FROM busybox\nCOPY *.txt /many\nCOPY *.cfg /single.cfg\n", tags=("glob:1",))
    assert sh(env, "glob:1", "ls /many; cat /single.cfg") == "a.txt\nb.txt\nonly.cfg"
