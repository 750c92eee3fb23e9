"""RUN: execute a command in a container over a step's snapshot.

The container is an OCI bundle (runtime/spec.py's ``BundleRequest``) over the
mounted snapshot, run in the foreground by the built-in launcher (or ``runc``,
which takes the same bundle and command line), so its output streams live
and its exit status is the step's. It gets a fresh network namespace
with only loopback (``--network=none``, the default offline) or the host's
(``--network=host``). ``RUN --mount`` adds cache dirs kept under
``<root>/buildcache/mounts`` (``sharing=locked``: one step at a time), tmpfs,
or read-only binds of the context or of another stage; a
heredoc script with a shebang is bind-mounted at ``/dev/pipes/<name>``.

Whatever happens, the container is deleted, its cgroup removed and its
bundle directory removed before this returns.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from stackctl.engine.build.context import BuildContext
from stackctl.engine.build.plan import RunSpec
from stackctl.engine.build.runmounts import RunMount
from stackctl.engine.build.snapshot import Snapshot
from stackctl.engine.runtime.rootfs import secure_join
from stackctl.engine.runtime.spec import BundleRequest, MountSpec, write_bundle
from stackctl.engine.runtime.users import resolve_user
from stackctl.errors import BuildError, StackctlError

__all__ = ["run_step"]

_STUBS = ("proc", "sys", "dev")  # mount points runc creates if the image lacks them


def _mounts(spec: RunSpec, root: Path, context: BuildContext | None,
            scripts_dir: Path | None, views: Mapping[str, Path]) -> list[MountSpec]:
    out: list[MountSpec] = []
    for m in spec.mounts:
        if m.type == "cache":
            path = _cache_dir(root, m)
            path.mkdir(parents=True, exist_ok=True)
            if m.mode is not None:
                os.chmod(path, m.mode)
            if m.uid is not None or m.gid is not None:
                os.chown(path, m.uid or 0, m.gid or 0)
            out.append(MountSpec(m.target, "bind", str(path),
                                 ("rbind", "ro" if m.readonly else "rw")))
        elif m.type == "tmpfs":
            opts = ["nosuid", "nodev"] + ([f"size={m.size}"] if m.size else [])
            out.append(MountSpec(m.target, "tmpfs", "tmpfs", tuple(opts)))
        elif m.type == "bind":
            if m.from_:
                view = views.get(m.from_)
                if view is None:
                    raise BuildError(f"RUN --mount from={m.from_}: no such stage or image")
                src = Path(secure_join(str(view), m.source or "/"))
            elif context is None:
                raise BuildError("RUN --mount=type=bind needs a build context")
            else:
                src = context.resolve(context.clean(m.source or ".", instruction="RUN --mount"))
            out.append(MountSpec(m.target, "bind", str(src),
                                 ("rbind", "ro" if m.readonly else "rw")))
    if scripts_dir is not None:
        out.append(MountSpec("/dev/pipes", "bind", str(scripts_dir), ("rbind", "ro")))
    if spec.network == "host":
        for f in ("/etc/resolv.conf", "/etc/hosts"):
            if os.path.exists(f):
                out.append(MountSpec(f, "bind", f, ("rbind", "ro")))
    return out


def run_step(spec: RunSpec, snap: Snapshot, *, root: Path, run_root: Path,
             context: BuildContext | None, output: Callable[[bytes], None],
             views: Mapping[str, Path] | None = None, runtime: str = "stackctl") -> int:
    """Run ``spec`` over ``snap``; return the exit status. Leaves nothing behind.

    ``views`` maps a ``--mount from=`` name to a read-only root of that stage
    or image. ``runtime`` is "stackctl" (the built-in launcher) or "runc";
    both take the same bundle and command line."""
    try:
        user = resolve_user(snap.rootfs, spec.user)
    except StackctlError as exc:
        raise BuildError(f"USER {spec.user}: {exc.message}", hint=exc.hint) from None
    workdir = secure_join(str(snap.rootfs), spec.workdir)
    os.makedirs(workdir, exist_ok=True)

    token = secrets.token_hex(6)
    cid = f"stackctl-build-{token}"
    bundle = run_root / "build" / token
    scripts_dir = None
    if spec.scripts:
        scripts_dir = bundle / "pipes"
        scripts_dir.mkdir(parents=True)
        for name, data in spec.scripts:
            (scripts_dir / name).write_text(data)
            os.chmod(scripts_dir / name, 0o755)
    mounts = _mounts(spec, root, context, scripts_dir, views or {})
    # Mount points runc creates for us are not the command's doing: note which
    # paths exist now, and take away the stubs afterwards.
    stubs = {"/" + s for s in _STUBS} | {m.destination for m in mounts}
    missing = _missing_paths(snap.rootfs, stubs)
    env = spec.env
    if not any(e.startswith("HOME=") for e in env):
        env = (*env, f"HOME={user.home}")  # as runc and Docker do for the user
    req = BundleRequest(
        rootfs=str(snap.rootfs), args=spec.argv, env=env, cwd=spec.workdir,
        uid=user.uid, gid=user.gid, additional_gids=user.additional_gids,
        hostname="buildkitsandbox",
        mounts=tuple(mounts),
        network="host" if spec.network == "host" else "new",
        cgroups_path=f"/{cid}",
        privileged=spec.insecure,
    )
    base = _runtime_argv(runtime, run_root)
    locks = _lock_caches(spec, root)
    try:
        write_bundle(bundle, req)
        with subprocess.Popen([*base, "run", "--bundle", str(bundle), cid],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                output(line)
            code = proc.wait()
    except FileNotFoundError as exc:
        raise BuildError(f"cannot run RUN steps: {exc.filename} is not installed",
                         hint="use the built-in runtime (the default)") from exc
    finally:
        subprocess.run([*base, "delete", "--force", cid], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        _remove_cgroup(cid)
        shutil.rmtree(bundle, ignore_errors=True)
        for fd in locks:
            os.close(fd)  # releases the flock
    _remove_stubs(snap.upper, missing)
    return code


def _cache_dir(root: Path, m: RunMount) -> Path:
    key = m.id or m.target
    return root / "buildcache" / "mounts" / hashlib.sha256(key.encode()).hexdigest()[:32]


def _lock_caches(spec: RunSpec, root: Path) -> list[int]:
    """``sharing=locked`` cache mounts: one build step at a time uses each."""
    import fcntl

    fds = []
    for m in spec.mounts:
        if m.type == "cache" and m.sharing == "locked":
            lock = _cache_dir(root, m).with_suffix(".lock")
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            fds.append(fd)
    return fds


def _missing_paths(rootfs: Path, targets: set[str]) -> list[str]:
    """Each target and parent of it that does not exist in ``rootfs`` yet."""
    out: set[str] = set()
    for target in targets:
        path = "/" + target.strip("/")
        while path != "/":
            if os.path.lexists(secure_join(str(rootfs), path)):
                break
            out.add(path)
            path = os.path.dirname(path)
    return sorted(out, key=lambda p: -p.count("/"))  # deepest first


def _remove_stubs(upper: Path, missing: list[str]) -> None:
    """Remove empty files/dirs the runtime created at mount points, deepest first."""
    for path in missing:
        stub = upper / path.lstrip("/")
        with contextlib.suppress(OSError):
            if stub.is_dir() and not stub.is_symlink():
                stub.rmdir()  # only when empty: the command may have written there
            elif stub.is_file() and stub.stat().st_size == 0:
                stub.unlink()


def _runtime_argv(runtime: str, run_root: Path) -> list[str]:
    if runtime == "runc":
        return ["runc", "--root", str(run_root / "build-runc")]
    if runtime != "stackctl":
        raise BuildError(f"unknown runtime {runtime!r}", hint="use stackctl or runc")
    from stackctl.engine.runtime.launch import launcher_argv

    return [*launcher_argv(), "--root", str(run_root / "build-launch")]


def _remove_cgroup(name: str) -> None:
    from stackctl.engine.oci import remove_cgroup

    remove_cgroup(name)
