"""``stackctl build`` as a user runs it: flags, stdin context, output, exit codes."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel


def stackctl(roots: tuple[Path, Path], *args: str, stdin: bytes | None = None
             ) -> subprocess.CompletedProcess[bytes]:
    root, run_root = roots
    return subprocess.run(
        [sys.executable, "-m", "stackctl", "--root", str(root), "--run-root", str(run_root),
         *args], input=stdin, capture_output=True, check=False, timeout=120)


def test_build_plain_progress_then_cached_quiet(busybox_image: tuple[Path, str],
                                                roots: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo built-here\nCMD [\"true\"]\n")
    first = stackctl(roots, "build", "--progress", "plain", "-t", "cli:1", "--label", "k=v",
                     str(tmp_path))
    assert first.returncode == 0, first.stderr
    err = first.stderr.decode()
    assert "#1 [stage-0 1/4] FROM busybox" in err
    assert "#2 [stage-0 2/4] RUN echo built-here" in err
    assert "built-here" in err and "#2 DONE" in err
    assert "naming to cli:1 done" in err
    again = stackctl(roots, "build", "-q", "-t", "cli:1", "--label", "k=v", str(tmp_path))
    assert again.returncode == 0
    image_id = again.stdout.decode().strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert again.stderr == b""
    listed = stackctl(roots, "images", "--no-trunc", "-q", "cli")
    assert image_id in listed.stdout.decode()


def test_build_context_from_stdin(busybox_image: tuple[Path, str],
                                  roots: tuple[Path, Path]) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY hello.txt /\n"),
                           ("hello.txt", b"from stdin\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    done = stackctl(roots, "build", "-q", "-t", "stdin:1", "-", stdin=buf.getvalue())
    assert done.returncode == 0, done.stderr


def test_failing_build_exit_code_and_message(busybox_image: tuple[Path, str],
                                             roots: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n\nRUN exit 7\n")
    failed = stackctl(roots, "build", "-t", "fails:1", str(tmp_path))
    assert failed.returncode == 1
    err = failed.stderr.decode()
    assert 'Error: Dockerfile:3: RUN exit 7: process "/bin/sh -c exit 7" did not complete ' \
        "successfully: exit code: 7" in err
    assert "Hint:" in err
    bad = stackctl(roots, "build", "-f", str(tmp_path / "nope"), str(tmp_path))
    assert bad.returncode == 1 and b"cannot read the Dockerfile" in bad.stderr
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPPY a b\n")
    parse = stackctl(roots, "build", str(tmp_path))
    assert parse.returncode == 1
    assert b"Dockerfile:2: unknown instruction: COPPY" in parse.stderr
    assert b"did you mean COPY?" in parse.stderr


def test_built_image_runs_with_its_config(busybox_image: tuple[Path, str],
                                          roots: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "motd").write_text("welcome\n")
    (tmp_path / "Dockerfile").write_text("""\
FROM busybox
RUN echo "svc:x:2000:2000::/home/svc:/bin/sh" >> /etc/passwd
ENV MODE=production
WORKDIR /srv
COPY --chown=svc --chmod=0600 motd .
USER svc
CMD ["sh", "-c", "echo $MODE $(pwd) $(id -u) && stat -c '%U %a' motd && cat motd"]
""")
    built = stackctl(roots, "build", "-q", "-t", "runs:1", str(tmp_path))
    assert built.returncode == 0, built.stderr
    ran = stackctl(roots, "run", "--rm", "runs:1")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.decode().splitlines() == ["production /srv 2000", "svc 600", "welcome"]


def test_bad_tag_fails_before_building(roots: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN exit 1\n")
    bad = stackctl(roots, "build", "-t", "Bad:Tag!", str(tmp_path))
    assert bad.returncode != 0
    assert b"RUN exit 1" not in bad.stderr and b"Error:" in bad.stderr


def test_missing_base_is_pulled_from_its_registry(roots: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    from stackctl.engine.images.store import ImageStore
    from stackctl.engine.registry.push import push_image
    from tests.fixtures_images import import_busybox
    from tests.registry.server import Registry

    seed = tmp_path / "seed"
    seed.mkdir()
    import_busybox(seed)
    (tmp_path / "ctx").mkdir()
    with Registry() as registry:  # loopback only
        with ImageStore(seed) as store:
            store.tag("busybox", f"{registry.host}/lib/busybox:1")
            push_image(store, f"{registry.host}/lib/busybox:1")
        (tmp_path / "ctx" / "Dockerfile").write_text(
            f"FROM {registry.host}/lib/busybox:1\nRUN echo pulled > /p\n")
        built = stackctl(roots, "build", "-t", "frompull:1", str(tmp_path / "ctx"))
        assert built.returncode == 0, built.stderr
        assert f"pulling {registry.host}/lib/busybox:1".encode() in built.stderr
        (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM {registry.host}/lib/nothing:1\n")
        missing = stackctl(roots, "build", str(tmp_path / "ctx"))
        assert missing.returncode == 1
        assert b"not in the local store, and pulling it failed" in missing.stderr


def test_iidfile_network_and_builder_prune(busybox_image: tuple[Path, str],
                                           roots: tuple[Path, Path], tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN ip -o link | grep -c . > /links\n")
    iid = tmp_path / "iid"
    none = stackctl(roots, "build", "-q", "--iidfile", str(iid), "-t", "net:none", str(ctx))
    assert none.returncode == 0, none.stderr
    assert iid.read_text() == none.stdout.decode().strip()
    host = stackctl(roots, "build", "-q", "--network", "host", "-t", "net:host", str(ctx))
    assert host.returncode == 0 and host.stdout != none.stdout  # another cache key
    bad = stackctl(roots, "build", "--network", "bridge", str(ctx))
    assert bad.returncode == 1 and b"--network 'bridge'" in bad.stderr
    pruned = stackctl(roots, "builder", "prune", "-a", "-f")
    assert pruned.returncode == 0 and b"Deleted build cache objects: 2" in pruned.stdout
    again = stackctl(roots, "build", "--progress", "plain", "-t", "net:none", str(ctx))
    assert b"CACHED" not in again.stderr


def test_dockerfile_alone_on_stdin(busybox_image: tuple[Path, str],
                                   roots: tuple[Path, Path]) -> None:
    done = stackctl(roots, "build", "-q", "-t", "bare:1", "-",
                    stdin=b"FROM busybox\nRUN echo no context > /n\n")
    assert done.returncode == 0, done.stderr
    copy = stackctl(roots, "build", "-", stdin=b"FROM busybox\nCOPY x /x\n")
    assert copy.returncode == 1 and b"COPY failed: x: not found in the build context" in \
        copy.stderr
